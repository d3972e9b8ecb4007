# PGXS build of pg_incview. `make && make install && make installcheck`.
EXTENSION   = pg_incview
MODULE_big  = pg_incview
DATA        = $(wildcard sql/pg_incview--*.sql)
DOCS        = README.md

CORE_SRCS   = $(wildcard src/core/*.cpp)
PG_SRCS     = $(wildcard src/pg/*.cpp src/pg/*/*.cpp)
OBJS        = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

# pg_regress: sql/<test>.sql against expected/<test>.out (PGXS default inputdir).
REGRESS     = $(patsubst sql/%.sql,%,$(sort $(filter-out sql/pg_incview--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --load-extension=pg_incview
# Isolation specs (specs/<name>.spec vs expected/<name>.out): interleavings of writers,
# refreshers and DDL, run by `make installcheck` after pg_regress.
ISOLATION   = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --load-extension=pg_incview

PG_CONFIG  ?= pg_config
PG_CXXFLAGS = -std=c++17 -fexceptions -Wno-register -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Isrc
SHLIB_LINK  = -lstdc++

# PGXS compiles .cpp to LLVM bitcode without our flags; we don't ship bitcode.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# src/core must stay free of PostgreSQL headers (docs/design.md, "Layers"): compile it without them.
src/core/%.o: src/core/%.cpp
	$(CXX) -std=c++17 -O2 -g -fPIC -Wall -Wextra -DINCVIEW_CORE_BUILD -Isrc -c -o $@ $<

# Rebuild objects when any header changes (PGXS tracks no C++ header dependencies).
$(OBJS): $(wildcard src/core/*.hpp src/pg/*/*.hpp)

# PGXN release archive: `make dist` -> pg_incview-<version>.zip (version from META.json),
# the committed tree (git archive of HEAD) under one top directory pg_incview-<version>/.
DISTVERSION = $(shell sed -n 's/^   "version": "\([^"]*\)",$$/\1/p' META.json)
.PHONY: dist
dist:
	git archive --format zip --prefix=pg_incview-$(DISTVERSION)/ -o pg_incview-$(DISTVERSION).zip HEAD
	@echo "pg_incview-$(DISTVERSION).zip"
