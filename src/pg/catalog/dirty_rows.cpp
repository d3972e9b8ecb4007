#include "pg/catalog/dirty_rows.hpp"

#include "pg/support/role.hpp"

namespace incview::pg {

void StageKeyQueue::queue_changed_keys(const CaptureSpec& spec, CaptureEvent event, CaptureSize size, int32 stage_id,
                                       int64 threshold) {
  const int slot = static_cast<int>(event) * kSizes + static_cast<int>(size);
  Datum values[2] = {Int32GetDatum(stage_id), Int64GetDatum(threshold)};
  as_extension_owner([&] {
    if (!changed_.plan[slot]) {
      Oid types[2] = {INT4OID, INT8OID};
      changed_.plan[slot] = prepare_kept(capture_statement(spec, event, size), 2, types);
    }
    run_kept(changed_.plan[slot], values, nullptr);
  });
}

void StageKeyQueue::queue_marker(CaptureEvent event, int32 stage_id, int64 threshold) {
  const int slot = static_cast<int>(event);
  Datum values[2] = {Int32GetDatum(stage_id), Int64GetDatum(threshold)};
  as_extension_owner([&] {
    if (!markers_.plan[slot]) {
      Oid types[2] = {INT4OID, INT8OID};
      markers_.plan[slot] = prepare_kept(capture_statement(CaptureSpec{MappingKind::All, {}, ""}, event), 2, types);
    }
    run_kept(markers_.plan[slot], values, nullptr);
  });
}

void StageKeyQueue::queue_keys(CaptureEvent event, int32 stage_id, int64 threshold, Datum keys) {
  const int slot = static_cast<int>(event);
  Datum values[3] = {Int32GetDatum(stage_id), Int64GetDatum(threshold), keys};
  as_extension_owner([&] {
    if (!keys_.plan[slot]) {
      Oid types[3] = {INT4OID, INT8OID, JSONBARRAYOID};
      keys_.plan[slot] = prepare_kept(queue_keys_statement(), 3, types);
    }
    run_kept(keys_.plan[slot], values, nullptr);
  });
}

}  // namespace incview::pg
