/*
 * prelude.c — the table of embedded prelude files, in load order. Their
 * bytes are generated from runtime/prelude/<name>.rb by scripts/embed.sh
 * as m31_prelude_<name> (see the Makefile); the pseudo-path is what
 * backtraces show.
 */
#include "runtime/internal.h"

extern const char m31_prelude_sys[];
extern const unsigned long m31_prelude_sys_len;
extern const char m31_prelude_fs[];
extern const unsigned long m31_prelude_fs_len;
extern const char m31_prelude_http[];
extern const unsigned long m31_prelude_http_len;
extern const char m31_prelude_jam[];
extern const unsigned long m31_prelude_jam_len;
extern const char m31_prelude_repl[];
extern const unsigned long m31_prelude_repl_len;
extern const char m31_prelude_chan[];
extern const unsigned long m31_prelude_chan_len;

const rt_prelude_file rt_prelude_files[] = {
    {"<m31>/prelude/sys.rb", m31_prelude_sys, &m31_prelude_sys_len},
    {"<m31>/prelude/fs.rb", m31_prelude_fs, &m31_prelude_fs_len},
    {"<m31>/prelude/http.rb", m31_prelude_http, &m31_prelude_http_len},
    {"<m31>/prelude/jam.rb", m31_prelude_jam, &m31_prelude_jam_len},
    {"<m31>/prelude/chan.rb", m31_prelude_chan, &m31_prelude_chan_len},
    {"<m31>/prelude/repl.rb", m31_prelude_repl, &m31_prelude_repl_len},
    {0, 0, 0},
};
