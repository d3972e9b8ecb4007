// incview.stage_state rows outside a refresh's log (catalog.hpp, log_refresh): what
// retention records. As the extension owner under the safe search path (docs/design.md,
// "The catalog layer").
#pragma once
#include <optional>
#include <string>

#include "pg/support/pg_headers.hpp"

namespace incview::pg {

// Writes: the stage's retention ran now (incview.stage_state.last_retention).
void save_retention_time(int32 stage_id);

// Reads: the stage's stored scope count (incview.stage_state.scope_count) as text;
// nullopt when unknown. auto_prefers_delta weighs source rows per scope with it.
std::optional<std::string> stored_scope_count(int32 stage_id);

}  // namespace incview::pg
