/*  jira_double_jql: the JQL subset of the Jira double (reference 8 and 15 item 9; README.md
    lists the fields, operators and error texts). A query is compiled against the store (its
    values are checked as Jira checks them: an unknown project or key is an error), then
    matched against issues. Called with the store's lock held. */
#include "jira_double.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Jira's texts (reference 8), and the detail of a syntax error, ours. */
#define E_JQL_VALUE "The value '%s' does not exist for the field '%s'."
#define E_JQL_FIELD "Field '%s' does not exist or you do not have permission to view it."
#define E_JQL_OPERATOR "The operator '%s' is not supported by the '%s' field."
#define E_JQL_KEY "An issue with key '%s' does not exist for field '%s'."
#define E_JQL_SYNTAX "Error in the JQL Query: %s"

/* JQL errors have warningMessages and no errors (reference 8). */
jd_reply_t
jd_jql_error(const char *fmt, ...)
{
    char msg[JD_MSG_MAX + JD_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jd_reply_t r = {400, json_pack("{s:[s], s:[]}", "errorMessages", msg, "warningMessages")};
    return r;
}

/* The grammar:
   query := [clause {(AND | OR) clause}] [ORDER BY field [ASC | DESC]]
   clause := field (= | != | ~ | IN | NOT IN) value | field [NOT] IN ( value {, value} )
   AND binds tighter than OR; parentheses around clauses are not modelled. */

#define S_JQL_TOKENS_MAX 1024 /* tokens in one query */

typedef enum { T_WORD, T_STRING, T_OP, T_LPAREN, T_RPAREN, T_COMMA } s_tok_type_t;

typedef struct s_tok {
    s_tok_type_t type; /* kind */
    char *text;        /* NUL-terminated, in the query's copy */
    int pos;           /* character position, from 0 */
} s_tok_t;

typedef enum { Q_EQ, Q_NE, Q_IN, Q_NOT_IN, Q_LIKE } s_op_t;
typedef enum {
    F_PROJECT,
    F_KEY,
    F_LABELS,
    F_STATUS,
    F_TYPE,
    F_TEXT,
    F_EPIC,
    F_SELECT,
    F_PROPERTY,
    F_PARENT,
    F_REPORTER
} s_kind_t;

typedef struct s_clause {
    s_kind_t kind;                         /* what the field is */
    s_op_t op;                             /* operator */
    int group;                             /* OR group (clauses of one group are ANDed) */
    const char *field;                     /* field as written, or its custom field id */
    char *prop_key;                        /* issue.property[KEY].path */
    char *prop_path;                       /* issue.property[key].PATH, or NULL */
    int n_values;                          /* used */
    const char *values[JD_JQL_VALUES_MAX]; /* in the query's copy */
} s_clause_t;

struct jd_query {
    char *copy;                             /* the query, split into tokens */
    s_tok_t toks[S_JQL_TOKENS_MAX];         /* tokens */
    int n_toks;                             /* used */
    s_clause_t clauses[JD_JQL_CLAUSES_MAX]; /* parsed */
    int n_clauses;                          /* used */
    const char *order;                      /* ORDER BY field, or NULL */
    bool desc;                              /* descending */
};

void
jd_query_free(jd_query_t **q_p)
{
    jd_query_t *q = q_p ? *q_p : NULL;
    if (!q)
        return;
    for (int i = 0; i < q->n_clauses; i++) {
        free(q->clauses[i].prop_key);
        free(q->clauses[i].prop_path);
    }
    free(q->copy);
    free(q);
    *q_p = NULL;
}

static bool
s_word_char(char c)
{
    return c && (isalnum((unsigned char)c) || strchr("_.-[]*$@", c)); /* strchr finds the NUL */
}

/* Splits text into tokens copied into q->copy (2 * len + 1 bytes: each token's text plus its
   NUL is at most its source plus one). Returns 0 or -1 with msg. */
static int
s_lex(jd_query_t *q, const char *text, char *msg, size_t len)
{
    const char *p = text;
    char *w = q->copy;
    while (*p) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        if (q->n_toks == S_JQL_TOKENS_MAX) {
            snprintf(msg, len, "the query has more than %d tokens.", S_JQL_TOKENS_MAX);
            return -1;
        }
        s_tok_t *t = &q->toks[q->n_toks++];
        t->pos = (int)(p - text);
        t->text = w;
        if (*p == '"' || *p == '\'') {
            char quote = *p++;
            t->type = T_STRING;
            while (*p && *p != quote) {
                if (*p == '\\' && p[1])
                    p++;
                *w++ = *p++;
            }
            if (!*p) {
                snprintf(msg, len, "Missing closing quote at character %d.", t->pos);
                return -1;
            }
            p++;
        } else if (*p == '(' || *p == ')' || *p == ',') {
            t->type = *p == '(' ? T_LPAREN : *p == ')' ? T_RPAREN : T_COMMA;
            *w++ = *p++;
        } else if (*p == '=' || *p == '~' || (*p == '!' && (p[1] == '=' || p[1] == '~'))) {
            t->type = T_OP;
            if (*p == '!')
                *w++ = *p++;
            *w++ = *p++;
        } else if (s_word_char(*p)) {
            t->type = T_WORD;
            while (s_word_char(*p))
                *w++ = *p++;
        } else {
            snprintf(msg, len, "The character '%c' is a reserved JQL character (character %d).", *p,
                     t->pos);
            return -1;
        }
        *w++ = '\0';
    }
    return 0;
}

static bool
s_kw(const s_tok_t *t, const char *kw)
{
    return t && t->type == T_WORD && strcasecmp(t->text, kw) == 0;
}

/* Any project has a status (or an issue type, with what "issue_types") with this id or name. */
static bool
s_known(jd_store_t *self, const char *what, const char *value)
{
    size_t i, j;
    json_t *p, *s;
    json_array_foreach(self->projects, i, p) json_array_foreach(json_object_get(p, what), j, s)
    {
        if (strcmp(jd_str(s, "id"), value) == 0 || strcasecmp(jd_str(s, "name"), value) == 0)
            return true;
    }
    return false;
}

/* Checks the values of a parsed clause. Returns 0, or -1 with *ret the 400. */
static int
s_resolve_values(jd_store_t *self, const s_clause_t *c, jd_reply_t *ret)
{
    for (int i = 0; i < c->n_values; i++) {
        const char *v = c->values[i];
        if ((c->kind == F_PROJECT && !jd_project(self, v)) ||
            (c->kind == F_STATUS && !s_known(self, "statuses", v)) ||
            (c->kind == F_TYPE && !s_known(self, "issue_types", v))) {
            *ret = jd_jql_error(E_JQL_VALUE, v, c->field);
            return -1;
        }
        if ((c->kind == F_KEY || c->kind == F_EPIC || c->kind == F_PARENT) && !jd_issue(self, v)) {
            *ret = jd_jql_error(E_JQL_KEY, v, c->field);
            return -1;
        }
    }
    return 0;
}

/* Resolves a field name into c. Returns 0, or -1 with *ret the 400. */
static int
s_resolve_field(jd_store_t *self, s_clause_t *c, const char *name, jd_reply_t *ret)
{
    static const struct {
        const char *name; /* JQL name */
        s_kind_t kind;    /* what it is */
    } names[] = {{"project", F_PROJECT},  {"key", F_KEY},       {"issuekey", F_KEY},
                 {"id", F_KEY},           {"labels", F_LABELS}, {"status", F_STATUS},
                 {"issuetype", F_TYPE},   {"type", F_TYPE},     {"summary", F_TEXT},
                 {"description", F_TEXT}, {"parent", F_PARENT}, {"reporter", F_REPORTER}};
    c->field = name;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0) {
            c->kind = names[i].kind;
            return 0;
        }
    if (strncasecmp(name, "issue.property[", 15) == 0) {
        const char *close = strchr(name + 15, ']');
        if (!close || close == name + 15 || (close[1] && close[1] != '.')) {
            *ret = jd_jql_error(E_JQL_FIELD, name);
            return -1;
        }
        c->kind = F_PROPERTY;
        c->prop_key = strndup(name + 15, (size_t)(close - name - 15));
        c->prop_path = close[1] ? strdup(close + 2) : NULL;
        return 0;
    }
    /* custom fields by name or as cf[NNNNN] */
    const json_t *def = NULL;
    long cf = 0;
    int end = 0;
    if (sscanf(name, "cf[%ld]%n", &cf, &end) == 1 && end > 0 && name[end] == '\0') {
        char id[64];
        snprintf(id, sizeof id, "customfield_%ld", cf);
        def = jd_field(self, id);
    } else {
        size_t i;
        json_t *d;
        json_array_foreach(self->fields, i, d) if (json_is_true(json_object_get(d, "custom")) &&
                                                   strcasecmp(jd_str(d, "name"), name) == 0) def =
            d;
    }
    if (!def) {
        *ret = jd_jql_error(E_JQL_FIELD, name);
        return -1;
    }
    const char *type = jd_str(def, "type");
    c->kind = strcmp(type, "epic_link") == 0                                    ? F_EPIC
              : strcmp(type, "select") == 0 || strcmp(type, "multiselect") == 0 ? F_SELECT
              : strcmp(type, "labels") == 0                                     ? F_LABELS
                                                                                : F_TEXT;
    c->field = jd_str(def, "id");
    return 0;
}

/* Parses and checks q->copy's tokens. Returns 0, or -1 with *ret the 400. */
static int
s_parse(jd_store_t *self, jd_query_t *q, jd_reply_t *ret)
{
    int i = 0, group = 0;
    char msg[JD_MSG_MAX];
    while (i < q->n_toks && !s_kw(&q->toks[i], "order")) {
        if (q->n_clauses == JD_JQL_CLAUSES_MAX) {
            snprintf(msg, sizeof msg, "more than %d clauses.", JD_JQL_CLAUSES_MAX);
            goto syntax;
        }
        s_clause_t *c = &q->clauses[q->n_clauses++];
        c->group = group;
        const s_tok_t *f = &q->toks[i++];
        if (f->type != T_WORD && f->type != T_STRING) {
            snprintf(msg, sizeof msg, "Expecting a field name but got '%s' (character %d).",
                     f->text, f->pos);
            goto syntax;
        }
        const s_tok_t *op = i < q->n_toks ? &q->toks[i++] : NULL;
        bool not = s_kw(op, "not");
        if (not )
            op = i < q->n_toks ? &q->toks[i++] : NULL;
        if (s_kw(op, "in")) {
            c->op = not ? Q_NOT_IN : Q_IN;
        } else if (!not &&op && op->type == T_OP && strcmp(op->text, "!~") != 0) {
            c->op = op->text[0] == '=' ? Q_EQ : op->text[0] == '~' ? Q_LIKE : Q_NE;
        } else {
            snprintf(msg, sizeof msg, "Expecting operator but got '%s' (character %d).",
                     op ? op->text : "end of query", op ? op->pos : (int)strlen(f->text));
            goto syntax;
        }
        if (s_resolve_field(self, c, f->text, ret) != 0)
            return -1;
        bool text_field = c->kind == F_TEXT;
        if ((c->op == Q_LIKE) != text_field) {
            *ret = jd_jql_error(E_JQL_OPERATOR, op->text, f->text);
            return -1;
        }
        bool list = c->op == Q_IN || c->op == Q_NOT_IN;
        if (list && (i >= q->n_toks || q->toks[i++].type != T_LPAREN)) {
            snprintf(msg, sizeof msg, "Expecting '(' after IN.");
            goto syntax;
        }
        do {
            const s_tok_t *v = i < q->n_toks ? &q->toks[i++] : NULL;
            if (!v || (v->type != T_WORD && v->type != T_STRING) ||
                c->n_values == JD_JQL_VALUES_MAX) {
                snprintf(msg, sizeof msg, "Expecting a value but got '%s'.",
                         v ? v->text : "end of query");
                goto syntax;
            }
            c->values[c->n_values++] = v->text;
        } while (list && i < q->n_toks && q->toks[i].type == T_COMMA && ++i);
        if (list && (i >= q->n_toks || q->toks[i++].type != T_RPAREN)) {
            snprintf(msg, sizeof msg, "Expecting ')' to close the IN list.");
            goto syntax;
        }
        if (s_resolve_values(self, c, ret) != 0)
            return -1;
        if (i < q->n_toks && (s_kw(&q->toks[i], "and") || s_kw(&q->toks[i], "or"))) {
            group += s_kw(&q->toks[i], "or");
            if (++i >= q->n_toks || s_kw(&q->toks[i], "order")) {
                snprintf(msg, sizeof msg, "Expecting a clause after '%s'.", q->toks[i - 1].text);
                goto syntax;
            }
        } else if (i < q->n_toks && !s_kw(&q->toks[i], "order")) {
            snprintf(msg, sizeof msg, "Expecting either 'OR' or 'AND' but got '%s' (character %d).",
                     q->toks[i].text, q->toks[i].pos);
            goto syntax;
        }
    }
    if (i < q->n_toks) { /* ORDER BY field [ASC|DESC] */
        if (!s_kw(&q->toks[i + 1 < q->n_toks ? i + 1 : i], "by") || i + 2 >= q->n_toks) {
            snprintf(msg, sizeof msg, "Expecting 'BY' and a field after 'ORDER'.");
            goto syntax;
        }
        q->order = q->toks[i + 2].text;
        static const char *const sortable[] = {"key", "issuekey", "id", "created", "updated"};
        bool known = false;
        for (size_t k = 0; k < sizeof sortable / sizeof sortable[0]; k++)
            known = known || strcasecmp(q->order, sortable[k]) == 0;
        if (!known) {
            *ret = jd_jql_error("Not able to sort using field '%s'.", q->order);
            return -1;
        }
        i += 3;
        if (i < q->n_toks && (s_kw(&q->toks[i], "asc") || s_kw(&q->toks[i], "desc")))
            q->desc = s_kw(&q->toks[i++], "desc");
        if (i < q->n_toks) {
            snprintf(msg, sizeof msg, "Unexpected '%s' after ORDER BY (character %d).",
                     q->toks[i].text, q->toks[i].pos);
            goto syntax;
        }
    } else {
        q->desc = true; /* no ORDER BY: newest first (README.md) */
    }
    return 0;
syntax:
    *ret = jd_jql_error(E_JQL_SYNTAX, msg);
    return -1;
}

/* Compiles jql. Returns the query, or NULL with *ret the 400. */
jd_query_t *
jd_query_new(jd_store_t *self, const char *jql, jd_reply_t *ret)
{
    jd_query_t *q = calloc(1, sizeof *q);
    size_t len = strlen(jql);
    if (!q || len > JD_JQL_MAX || !(q->copy = malloc(2 * len + 1))) {
        jd_query_free(&q);
        *ret = jd_jql_error(E_JQL_SYNTAX, "the query is too long.");
        return NULL;
    }
    char msg[JD_MSG_MAX];
    if (s_lex(q, jql, msg, sizeof msg) != 0) {
        *ret = jd_jql_error(E_JQL_SYNTAX, msg);
        jd_query_free(&q);
        return NULL;
    }
    if (s_parse(self, q, ret) != 0) {
        jd_query_free(&q);
        return NULL;
    }
    return q;
}

/* The property value at path (dot-separated keys), or NULL. */
static const json_t *
s_at_path(const json_t *v, const char *path)
{
    if (!path)
        return v;
    char *copy = strdup(path), *save = NULL;
    for (char *k = copy ? strtok_r(copy, ".", &save) : NULL; k && v; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    free(copy);
    return copy ? v : NULL;
}

static bool
s_value_is(const json_t *v, const char *want)
{
    if (json_is_string(v))
        return strcasecmp(json_string_value(v), want) == 0;
    if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) {
        char *text = json_dumps(v, JSON_ENCODE_ANY);
        bool same = text && strcmp(text, want) == 0;
        free(text);
        return same;
    }
    return false;
}

/* Does text contain want, ignoring case (JQL's ~, without its word stemming)? */
static bool
s_contains(const char *text, const char *want)
{
    size_t n = strlen(want);
    for (; *text; text++)
        if (strncasecmp(text, want, n) == 0)
            return true;
    return n == 0;
}

/* Does one value of clause c hold for issue? */
static bool
s_holds(jd_store_t *self, const s_clause_t *c, const json_t *issue, const char *want)
{
    const json_t *project = jd_project_of(self, issue);
    const json_t *fields = json_object_get(issue, "fields");
    switch (c->kind) {
    case F_PROJECT:
        return jd_project(self, want) == project;
    case F_KEY:
        return jd_issue(self, want) == issue;
    case F_STATUS: {
        const json_t *st = jd_status(project, jd_str(issue, "status"));
        return strcmp(jd_str(st, "id"), want) == 0 || strcasecmp(jd_str(st, "name"), want) == 0;
    }
    case F_TYPE: {
        const json_t *t = jd_issuetype(project, jd_str(issue, "issuetype"));
        return strcmp(jd_str(t, "id"), want) == 0 || strcasecmp(jd_str(t, "name"), want) == 0;
    }
    case F_REPORTER:
        return strcasecmp(jd_str(issue, "reporter"), want) == 0;
    case F_PARENT:
        return false; /* no sub-tasks in the double */
    case F_EPIC: {
        const char *epic = jd_str(fields, c->field);
        return epic && jd_issue(self, epic) == jd_issue(self, want);
    }
    case F_LABELS:
    case F_SELECT: {
        const json_t *v = json_object_get(fields, c->field);
        if (json_is_object(v))
            return s_value_is(json_object_get(v, "value"), want);
        size_t i;
        const json_t *e;
        json_array_foreach(v, i,
                           e) if (s_value_is(json_is_object(e) ? json_object_get(e, "value") : e,
                                             want)) return true;
        return false;
    }
    case F_TEXT: {
        const char *s = jd_str(fields, c->field);
        return s && s_contains(s, want);
    }
    case F_PROPERTY: {
        if (!jd_in_list(self->indexed, c->prop_key))
            return false; /* no app indexes it: Jira finds nothing (reference 8) */
        const json_t *v = json_object_get(json_object_get(issue, "properties"), c->prop_key);
        return s_value_is(s_at_path(v, c->prop_path), want);
    }
    }
    return false;
}

static bool
s_clause_matches(jd_store_t *self, const s_clause_t *c, const json_t *issue)
{
    bool any = false;
    for (int i = 0; i < c->n_values && !any; i++)
        any = s_holds(self, c, issue, c->values[i]);
    if (c->op == Q_EQ || c->op == Q_IN || c->op == Q_LIKE)
        return any;
    /* != and NOT IN never match an empty field (Jira's EMPTY rule) */
    const json_t *v = json_object_get(json_object_get(issue, "fields"), c->field);
    if ((c->kind == F_LABELS || c->kind == F_SELECT || c->kind == F_EPIC) && jd_empty(v))
        return false;
    return !any;
}

bool
jd_query_matches(jd_store_t *self, const jd_query_t *q, const json_t *issue)
{
    if (!q->n_clauses)
        return true;
    for (int g = 0, i = 0; i < q->n_clauses; g++) {
        bool all = true;
        for (; i < q->n_clauses && q->clauses[i].group == g; i++)
            all = all && s_clause_matches(self, &q->clauses[i], issue);
        if (all)
            return true;
    }
    return false;
}

bool
jd_jql_filter(jd_store_t *self, const char *jql, const json_t *issue)
{
    jd_reply_t bad;
    jd_query_t *q = jd_query_new(self, jql, &bad);
    if (!q) {
        json_decref(bad.json);
        return false;
    }
    bool ok = jd_query_matches(self, q, issue);
    jd_query_free(&q);
    return ok;
}

static const char *s_sort_field; /* qsort has no context argument */
static bool s_sort_desc;         /* the same */

static int
s_sort_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *key = strcasecmp(s_sort_field, "updated") == 0 ? "updated_ms" : "id";
    json_int_t u = json_integer_value(json_object_get(x, key)),
               v = json_integer_value(json_object_get(y, key));
    if (u == v) {
        u = json_integer_value(json_object_get(x, "id"));
        v = json_integer_value(json_object_get(y, "id"));
    }
    int c = u < v ? -1 : u > v;
    return s_sort_desc ? -c : c;
}

void
jd_query_sort(const jd_query_t *q, json_t **issues, size_t n)
{
    s_sort_field = q->order ? q->order : "id"; /* callers hold the store's lock */
    s_sort_desc = q->desc;
    qsort(issues, n, sizeof *issues, s_sort_cmp);
}
