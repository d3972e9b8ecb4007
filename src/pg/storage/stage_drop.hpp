// Dropping a stage (incview.drop_stage, and the sql_drop event trigger when PostgreSQL's
// own DROP ... CASCADE takes a stage's table or source): what goes, in which order, and the
// stages reading its table. The catalog rows themselves are catalog/stage_rows.hpp's.
#pragma once
#include "pg/catalog/catalog.hpp"

namespace incview::pg {

// Drops the stage: refuses while other stages read its table unless cascade, in which
// case those go first. Removes its table, its definition view, its catalog rows and its
// queued keys. check_owners = false when PostgreSQL's own DROP ... CASCADE decided it (the
// sql_drop event trigger): like the objects PostgreSQL cascades to, any owner's stage goes.
void drop_stage_cascade(const StageRecord& stage, bool cascade, bool check_owners = true);

}  // namespace incview::pg
