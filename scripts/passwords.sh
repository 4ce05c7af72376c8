# The tracker's passwords, which scripts/run makes on its first run and keeps in .run/pgpass
# (libpq's format, readable only by whoever ran it). Sourced by run, bench, bench-digest and
# soak, with ROOT set: psql and pgbench read the file themselves through PGPASSFILE, and
# password_of gives a password to put in a URL for programs that do not.
export PGPASSFILE="$ROOT/.run/pgpass"

# password_of ROLE: the password kept for ROLE, empty if there is none yet.
password_of() {
    [ -f "$PGPASSFILE" ] && awk -F: -v role="$1" '$4 == role { print $5 }' "$PGPASSFILE"
    true
}
