// How long a storage swap (storage_swap.hpp) holds ACCESS EXCLUSIVE on the stage table:
// from the moment it gets the lock to the end of its transaction, when PostgreSQL releases
// it. Readers arriving meanwhile wait that long (issue 12: at most 100 ms). Reported at
// DEBUG1 when the transaction (or the subtransaction that took the lock) ends:
//   SET client_min_messages = debug1; SELECT incview.rebuild('s');
//   DEBUG:  stage "s": the storage swap of public.s held ACCESS EXCLUSIVE for 3.1 ms until commit
#pragma once
#include <string>

namespace incview::pg {

// The swap got its lock after `waited_ms` of polling for it.
void swap_lock_taken(const std::string& stage, const std::string& table, double waited_ms);
// The catalog swap itself is done (the lock stays until the transaction ends).
void swap_lock_swapped();

}  // namespace incview::pg
