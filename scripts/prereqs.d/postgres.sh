# PostgreSQL for the bank's shared-database tests (bank/tests/postgres.rs) and the benchmark's
# PostgreSQL row: the tests start a throwaway cluster of their own (initdb in a temp dir, as the
# `postgres` user when run as root); nothing is configured or started system-wide. The Debian
# package's own cluster, if the package creates one, is left alone.
APT_PACKAGES+=(postgresql)
