/*
 * repl.c — /repl: interactive sessions. A session is a VM of its own on
 * one worker (runtime/worker.c, "run" frames naming a session), so what
 * one defines no other sees; each evaluation is a fibril in it calling
 * __m31_repl (runtime/prelude/repl.rb), with the sandbox and budgets of
 * any fibril, answered when that fibril ends.
 *
 * A runaway evaluation is stopped by ending its worker; the session's VM
 * dies with it. The node keeps what it needs to remake it: the inputs that
 * defined something and the last snapshot of the variables that convert to
 * JSON; the next evaluation replays those first.
 *
 * Threads: HTTP threads create, evaluate, list and delete; the nucleus
 * thread starts evaluations (fibrils_defer), reports their output and end
 * (repl_on_*), and expires idle sessions. One mutex guards the sessions.
 */
#include "resources/resources.h"
#include "runtime/runtime.h"
#include "util/text.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPL_MAX 32               /* sessions at once */
#define REPL_CODE_MAX (1 << 20)   /* bytes of one input */
#define REPL_OUTPUT_MAX (1 << 20) /* printed bytes kept per evaluation */
#define REPL_CPU_MS_DEFAULT 10000 /* CPU budget of one evaluation */
#define REPL_CPU_MS_MAX 3600000

typedef struct session session;

typedef struct evaluation {
  m31_req *req;
  session *s;
  char *code;
  uint64_t cpu_ms, mem;
  char fibril[RT_ID_MAX];
  int started, resumed, stopping;
  char *out; /* what it printed */
  size_t outlen;
  int state;      /* rt_fibril_state once ended, else -1 */
  json_t *result; /* DONE: what __m31_repl answered */
  json_t *error;  /* FAILED, KILLED: {class, message, backtrace} */
  uint64_t cpu_ns;
} evaluation;

struct session {
  char id[RT_ID_MAX]; /* also the name of its VM on the workers */
  int64_t created_ms, used_ms;
  uint64_t evals;
  evaluation *busy;
  json_t *defs; /* inputs that defined something, in order */
  json_t *vars; /* the last snapshot of the variables */
  int lost;     /* its VM died: restore before the next evaluation */
  int gone;     /* deleted while busy: freed when the evaluation ends */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static session *sessions[REPL_MAX];
static unsigned long counter;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void session_free(session *s) {
  if (!s) return;
  json_decref(s->defs);
  json_decref(s->vars);
  free(s);
}

static void eval_free(evaluation *ev) {
  free(ev->code);
  free(ev->out);
  json_decref(ev->result);
  json_decref(ev->error);
  free(ev);
}

/* The slot of session id (deleted ones too when gone_too), or -1.
 * Caller locks. */
static int slot_of(const char *id, int gone_too) {
  for (int i = 0; i < REPL_MAX; i++)
    if (sessions[i] && (gone_too || !sessions[i]->gone) &&
        strcmp(sessions[i]->id, id) == 0)
      return i;
  return -1;
}

/* The live session with this id, or NULL. Caller locks. */
static session *find(const char *id) {
  int i = slot_of(id, 0);
  return i < 0 ? NULL : sessions[i];
}

/* The public shape of a session (new). Caller locks. */
static json_t *session_json(const session *s) {
  char created[40], used[40], expires[40], uri[RT_ID_MAX + 8];
  json_t *names = json_array(), *v;
  const char *k;
  time_rfc3339(s->created_ms, created, sizeof created);
  time_rfc3339(s->used_ms, used, sizeof used);
  time_rfc3339(s->used_ms + (int64_t)server_config()->repl_idle * 1000, expires,
               sizeof expires);
  snprintf(uri, sizeof uri, "/repl/%s", s->id);
  json_object_foreach(s->vars, k, v)
      json_array_append_new(names, json_string(k));
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s?, s:o, s:I}", "id",
                   s->id, "uri", uri, "created", created, "last_used", used,
                   "expires", expires, "evals", (json_int_t)s->evals, "state",
                   s->busy ? "busy" : "idle", "fibril",
                   s->busy && s->busy->started ? s->busy->fibril : NULL, "vars",
                   names, "definitions", (json_int_t)json_array_size(s->defs));
}

/* ---------------------------------------------------------- the hooks */

/* The evaluation running as fibril, or NULL. Caller locks. */
static evaluation *running(const char *fibril) {
  for (int i = 0; i < REPL_MAX; i++) {
    evaluation *ev = sessions[i] ? sessions[i]->busy : NULL;
    if (ev && ev->started && strcmp(ev->fibril, fibril) == 0) return ev;
  }
  return NULL;
}

int repl_on_print(const char *fibril, const char *text) {
  evaluation *ev;
  size_t n = strlen(text);
  pthread_mutex_lock(&lock);
  if ((ev = running(fibril)) && ev->outlen < REPL_OUTPUT_MAX) {
    if (n > REPL_OUTPUT_MAX - ev->outlen) n = REPL_OUTPUT_MAX - ev->outlen;
    char *p = realloc(ev->out, ev->outlen + n + 1);
    if (p) {
      memcpy(p + ev->outlen, text, n);
      ev->out = p, ev->outlen += n;
      p[ev->outlen] = '\0';
    }
  }
  pthread_mutex_unlock(&lock);
  return ev != NULL;
}

void repl_on_end(const char *fibril, int state, json_t *result,
                 const rt_error *err, uint64_t cpu_ns) {
  evaluation *ev;
  pthread_mutex_lock(&lock);
  if ((ev = running(fibril)) && !ev->resumed) {
    ev->state = state;
    ev->cpu_ns = cpu_ns;
    if (state == RT_FIBRIL_DONE) ev->result = json_incref(result);
    if (err && state == RT_FIBRIL_KILLED)
      ev->error = json_pack("{s:s, s:s, s:[]}", "class", "Killed", "message",
                            err->message, "backtrace");
    else if (err)
      ev->error = rt_error_json(err);
    ev->resumed = 1;
    req_resume(ev->req);
  }
  pthread_mutex_unlock(&lock);
}

void repl_on_lost(const char *session_id) {
  session *s;
  pthread_mutex_lock(&lock);
  if ((s = find(session_id))) s->lost = 1;
  pthread_mutex_unlock(&lock);
}

void repl_tick(void) {
  int64_t now = now_ms(), idle = (int64_t)server_config()->repl_idle * 1000;
  session *expired[REPL_MAX];
  int n = 0;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < REPL_MAX; i++)
    if (sessions[i] && !sessions[i]->busy &&
        now - sessions[i]->used_ms > idle) {
      expired[n++] = sessions[i];
      sessions[i] = NULL;
    }
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < n; i++) {
    m31_log(LOG_INFO, "repl session %s expired", expired[i]->id);
    fibrils_session_drop(expired[i]->id);
    session_free(expired[i]);
  }
}

void repl_quiesce(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < REPL_MAX; i++) {
    evaluation *ev = sessions[i] ? sessions[i]->busy : NULL;
    if (ev && !ev->resumed) {
      ev->stopping = ev->resumed = 1;
      req_resume(ev->req);
    }
  }
  pthread_mutex_unlock(&lock);
}

void repl_shutdown(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < REPL_MAX; i++) {
    session_free(sessions[i]);
    sessions[i] = NULL;
  }
  pthread_mutex_unlock(&lock);
}

/* --------------------------------------------------------- evaluation */

/* Whether src may define something a restore must replay: a method,
 * class, module, alias or constant, or code it loads. A word scan, so it
 * errs toward replaying. */
static int defines(const char *src) {
  static const char *const words[] = {
      "def",  "class",         "module",      "alias", "define_method",
      "load", "attr_accessor", "attr_reader", "Struct"};
  const char *p = src;
  while (*p) {
    const char *w = p;
    if (!(isalnum((unsigned char)*p) || *p == '_')) {
      p++;
      continue;
    }
    while (isalnum((unsigned char)*p) || *p == '_')
      p++;
    size_t n = (size_t)(p - w);
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
      if (strlen(words[i]) == n && strncmp(w, words[i], n) == 0) return 1;
    /* CONSTANT = ... (not ==) */
    if (isupper((unsigned char)*w) &&
        (w == src || w[-1] == '\n' || w[-1] == ' ' || w[-1] == ';')) {
      const char *q = p;
      while (*q == ' ')
        q++;
      if (q[0] == '=' && q[1] != '=' && q[1] != '~') return 1;
    }
  }
  return 0;
}

/* On the nucleus thread: starts ev as a fibril of its session. */
static void eval_start(void *arg) {
  evaluation *ev = arg;
  session *s = ev->s;
  json_t *restore = NULL, *args;
  char id[RT_ID_MAX];
  int rc;
  pthread_mutex_lock(&lock);
  if (s->lost)
    restore = json_pack("{s:O, s:O}", "defs", s->defs, "vars", s->vars);
  pthread_mutex_unlock(&lock);
  args = json_pack("[s, o?]", ev->code, restore);
  if (!args) args = json_pack("[s]", ev->code);
  rc =
      fibrils_session_spawn(s->id, "__m31_repl", args, ev->cpu_ms, ev->mem, id);
  json_decref(args);
  pthread_mutex_lock(&lock);
  snprintf(ev->fibril, sizeof ev->fibril, "%s", id);
  ev->started = rc == 0;
  if (rc != 0 && !ev->resumed) {
    ev->resumed = 1;
    req_resume(ev->req);
  }
  pthread_mutex_unlock(&lock);
}

/* The line of error e in the input: from a SyntaxError's
 * "(repl):LINE:COL: text", else the first "(repl):LINE" of the backtrace;
 * JSON null when neither. */
static json_t *error_line(json_t *e) {
  const char *m = json_string_value(json_object_get(e, "message"));
  json_t *bt = json_object_get(e, "backtrace"), *v;
  size_t i;
  if (m && strncmp(m, "(repl):", 7) == 0) return json_integer(atol(m + 7));
  json_array_foreach(bt, i, v) {
    const char *t = json_string_value(v);
    if (t && strncmp(t, "(repl):", 7) == 0) return json_integer(atol(t + 7));
  }
  return json_null();
}

/* The answer of an evaluation that ran (new); updates its session.
 * Caller locks. */
static json_t *eval_answer(evaluation *ev) {
  session *s = ev->s;
  json_t *res = ev->result, *err = json_null(), *value = json_null();
  const char *inspect = NULL;
  int incomplete = json_is_true(json_object_get(res, "incomplete"));
  if (ev->state == RT_FIBRIL_DONE && !incomplete) {
    inspect = json_string_value(json_object_get(res, "result"));
    if (json_is_true(json_object_get(res, "json")))
      value = json_incref(json_object_get(res, "value"));
    if (json_is_object(json_object_get(res, "vars"))) {
      json_decref(s->vars);
      s->vars = json_incref(json_object_get(res, "vars"));
    }
    if (defines(ev->code))
      json_array_append_new(s->defs, json_string(ev->code));
    s->lost = 0;
  } else if (ev->state != RT_FIBRIL_DONE && ev->error) {
    json_decref(err);
    err = json_copy(ev->error);
    json_object_set_new(err, "line", error_line(ev->error));
  }
  if (!incomplete) s->evals++;
  return json_pack("{s:s?, s:o, s:s, s:o, s:b, s:s, s:I}", "result", inspect,
                   "value", value, "output", ev->out ? ev->out : "", "error",
                   err, "incomplete", incomplete, "fibril", ev->fibril,
                   "cpu_ms", (json_int_t)(ev->cpu_ns / 1000000));
}

static void eval_resume(m31_req *r, void *arg) {
  evaluation *ev = arg;
  session *s = ev->s;
  json_t *body = NULL;
  int gone;
  pthread_mutex_lock(&lock);
  if (!ev->stopping && ev->started) body = eval_answer(ev);
  s->busy = NULL;
  s->used_ms = now_ms();
  if ((gone = s->gone)) /* deleted while it ran: its slot goes now */
    sessions[slot_of(s->id, 1)] = NULL;
  pthread_mutex_unlock(&lock);
  if (body)
    reply_json(r, 200, body);
  else if (ev->stopping)
    reply_problem(r, 503, NULL, "the node is stopping");
  else
    reply_problem(r, 503, NULL, "no worker could run the evaluation");
  if (gone) session_free(s);
  eval_free(ev);
}

/* The input of POST /repl/{id}: text/plain is the code; JSON is
 * {"code": "...", "budget": {"cpu_ms", "memory_bytes"}}. */
static int input_or_reply(m31_req *r, evaluation *ev) {
  const char *ct = req_header(r, "Content-Type");
  size_t len;
  const char *body = req_body(r, &len);
  json_t *j, *code, *b;
  ev->cpu_ms = REPL_CPU_MS_DEFAULT;
  int json = ct && (strncasecmp(ct, "application/json", 16) == 0 ||
                    strstr(ct, "+json"));
  /* text, or no type, or curl's --data-binary default (a form) is code */
  if (ct && !json && strncasecmp(ct, "text/", 5) != 0 &&
      strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
    reply_problem(r, 415, "Content-Type",
                  "the body is Ruby (text/plain) or {\"code\": ...} "
                  "(application/json)");
    return -1;
  }
  if (!json) {
    if (strlen(body) != len) {
      reply_problem(r, 422, "code", "the code holds a NUL character");
      return -1;
    }
    ev->code = strndup(body, len);
  } else {
    if (req_json_or_reply(r, &j) != 0) return -1;
    code = json_object_get(j, "code");
    b = json_object_get(j, "budget");
    if (!json_is_object(j) || !json_is_string(code) ||
        strlen(json_string_value(code)) != json_string_length(code)) {
      json_decref(j);
      reply_problem(r, 422, "code", "code must be a string without NUL");
      return -1;
    }
    json_t *cpu = json_object_get(b, "cpu_ms"),
           *mem = json_object_get(b, "memory_bytes");
    if ((b && !json_is_object(b)) ||
        (cpu && (!json_is_integer(cpu) || json_integer_value(cpu) < 1 ||
                 json_integer_value(cpu) > REPL_CPU_MS_MAX)) ||
        (mem && (!json_is_integer(mem) || json_integer_value(mem) < 65536))) {
      json_decref(j);
      reply_problem(r, 422, "budget",
                    "budget.cpu_ms is 1..%d, budget.memory_bytes at least "
                    "65536",
                    REPL_CPU_MS_MAX);
      return -1;
    }
    if (cpu) ev->cpu_ms = (uint64_t)json_integer_value(cpu);
    if (mem) ev->mem = (uint64_t)json_integer_value(mem);
    ev->code = strdup(json_string_value(code));
    json_decref(j);
  }
  if (!ev->code) abort();
  if (strlen(ev->code) > REPL_CODE_MAX) {
    reply_problem(r, 413, "code", "an input is at most %d bytes",
                  REPL_CODE_MAX);
    return -1;
  }
  return 0;
}

void repl_eval(m31_req *r) {
  evaluation *ev = calloc(1, sizeof *ev);
  session *s;
  if (!ev) abort();
  ev->state = -1;
  if (input_or_reply(r, ev) != 0) {
    eval_free(ev);
    return;
  }
  pthread_mutex_lock(&lock);
  s = find(req_param(r, 0));
  if (s && !s->busy) s->busy = ev;
  pthread_mutex_unlock(&lock);
  if (!s) {
    reply_problem(r, 404, NULL, "no REPL session %s", req_param(r, 0));
    eval_free(ev);
    return;
  }
  if (s->busy != ev) {
    reply_problem(r, 409, NULL,
                  "an evaluation is running in session %s; wait for it", s->id);
    eval_free(ev);
    return;
  }
  ev->s = s;
  ev->req = r;
  req_suspend(r, eval_resume, ev);
  fibrils_defer(eval_start, ev);
}

/* ----------------------------------------------------------- sessions */

void repl_create(m31_req *r) {
  session *s = calloc(1, sizeof *s);
  json_t *body = NULL;
  char loc[RT_ID_MAX + 8];
  int slot = -1;
  if (!s) abort();
  s->created_ms = s->used_ms = now_ms();
  s->defs = json_array();
  s->vars = json_object();
  pthread_mutex_lock(&lock);
  for (int i = 0; i < REPL_MAX && slot < 0; i++)
    if (!sessions[i]) slot = i;
  if (slot >= 0) {
    snprintf(s->id, sizeof s->id, "%.40s-r%lx", server_config()->node,
             ++counter);
    sessions[slot] = s;
    body = session_json(s);
  }
  pthread_mutex_unlock(&lock);
  if (slot < 0) {
    session_free(s);
    reply_problem(r, 503, NULL,
                  "%d REPL sessions are open; end one (DELETE) or wait for "
                  "one to expire",
                  REPL_MAX);
    return;
  }
  snprintf(loc, sizeof loc, "/repl/%s", s->id);
  reply_header(r, "Location", loc);
  reply_json(r, 201, body);
}

void repl_list(m31_req *r) {
  json_t *items = json_array();
  pthread_mutex_lock(&lock);
  for (int i = 0; i < REPL_MAX; i++)
    if (sessions[i] && !sessions[i]->gone)
      json_array_append_new(items, session_json(sessions[i]));
  pthread_mutex_unlock(&lock);
  reply_json(r, 200, json_pack("{s:o}", "items", items));
}

void repl_get(m31_req *r) {
  json_t *body = NULL;
  session *s;
  pthread_mutex_lock(&lock);
  if ((s = find(req_param(r, 0)))) body = session_json(s);
  pthread_mutex_unlock(&lock);
  if (!body)
    reply_problem(r, 404, NULL, "no REPL session %s", req_param(r, 0));
  else
    reply_json(r, 200, body);
}

static void drop_later(void *arg) {
  fibrils_session_drop(arg);
  free(arg);
}

void repl_delete(m31_req *r) {
  session *s;
  char *name;
  int i, busy = 0;
  pthread_mutex_lock(&lock);
  s = (i = slot_of(req_param(r, 0), 0)) >= 0 ? sessions[i] : NULL;
  if (s && !(name = strdup(s->id))) abort();
  if (s && (busy = s->busy != NULL)) /* hidden until its answer is sent */
    s->gone = 1;
  else if (s)
    sessions[i] = NULL;
  pthread_mutex_unlock(&lock);
  if (!s) {
    reply_problem(r, 404, NULL, "no REPL session %s", req_param(r, 0));
    return;
  }
  if (!busy) session_free(s);
  fibrils_defer(drop_later, name);
  reply_empty(r, 204);
}
