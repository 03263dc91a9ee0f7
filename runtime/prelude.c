/*
 * prelude.c — the table of embedded prelude files, in load order. Their
 * bytes are generated from runtime/prelude/<name>.rb by scripts/embed.sh
 * as m31_prelude_<name> (see the Makefile); the pseudo-path is what
 * backtraces show.
 */
#include "runtime/internal.h"

extern const char m31_prelude_sys[];
extern const unsigned long m31_prelude_sys_len;

const rt_prelude_file rt_prelude_files[] = {
    {"<m31>/prelude/sys.rb", m31_prelude_sys, &m31_prelude_sys_len},
    {0, 0, 0},
};
