# shellcheck shell=bash
# Sourced by scripts/bench and scripts/bench-digest.
# ticks PID [reaped]: utime+stime of /proc/PID/stat in clock ticks, with `reaped` plus
# cutime+cstime (the children it waited for); nothing if the process is gone.
ticks() {
    local stat f
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    read -ra f <<<"${stat##*) }" # the fields after the command name: f[11] is utime
    if [ -n "${2:-}" ]; then echo $((f[11] + f[12] + f[13] + f[14])); else echo $((f[11] + f[12])); fi
}
