// Included first by every src/core header: src/core is plain C++ and must never see
// PostgreSQL's headers (docs/design.md, "Layers"). Core files are compiled with INCVIEW_CORE_BUILD and
// without PostgreSQL's include path (Makefile and CMake), so `#include "postgres.h"` in
// src/core fails to compile, and a postgres.h that slipped in through another header
// trips this check. src/pg may include core headers after postgres.h: that is the point.
#pragma once
#if defined(INCVIEW_CORE_BUILD) && defined(POSTGRES_H)
#error "src/core must not include postgres.h; put PostgreSQL-facing code in src/pg"
#endif
