// Included first by every src/core header: src/core is plain C++ and must never see
// PostgreSQL's headers (DESIGN.md §2). If postgres.h came in before us, fail the build.
#pragma once
#ifdef POSTGRES_H
#error "src/core must not include postgres.h; put PostgreSQL-facing code in src/pg"
#endif
#define INCVIEW_CORE_NO_POSTGRES 1
