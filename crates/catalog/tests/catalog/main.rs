//! Integration tests of depot-catalog against a real PostgreSQL: each test migrates a fresh
//! database of its own (`depot_test_catalog_<uuid>`) on the server `DEPOT_TEST_POSTGRES` names
//! (default `postgres://postgres@127.0.0.1:5432`; `scripts/ensure-postgres.sh` starts one).

mod audit;
mod lock;
mod paging;
mod rollback;
mod support;
