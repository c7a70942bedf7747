#!/usr/bin/env python3
"""tools/gen_protocol.py: turns the message definitions in src/protocol/defs/*.def into C.

Usage: gen_protocol.py --out <dir> <file.def>...

Writes into <dir>:
  msgs.h          structs, init/decode/encode prototypes, SK_API_* keys, the API table type
  api_table.c     the API table, header-version functions, wire helpers used by the codecs
  msg_<def>.c     one per def file: init/decode/encode of its messages and nested structs
  msgs_test.c     test-only: seeded random fill and field-by-field equality per message,
                  plus a table of them; linked into tests only, never into the library

The def format is described in docs/protocol.md. Python 3 standard library only.
Invariants of the output: every decode reads exactly one message of the version asked
for, never reads outside its sk_rd_t, checks array counts against the bytes left before
allocating, and returns SK_ECORRUPT for malformed input instead of asserting.
"""
import os
import re
import sys

PRIMS = {
    # type: (C type, reader, writer, min wire bytes)
    'int8': ('int8_t', 'sk_rd_i8', 'sk_wr_i8', 1),
    'int16': ('int16_t', 'sk_rd_i16', 'sk_wr_i16', 2),
    'uint16': ('uint16_t', 'sk_rd_u16', 'sk_wr_u16', 2),
    'int32': ('int32_t', 'sk_rd_i32', 'sk_wr_i32', 4),
    'int64': ('int64_t', 'sk_rd_i64', 'sk_wr_i64', 8),
    'float64': ('double', 'sk_rd_f64', 'sk_wr_f64', 8),
    'bool': ('bool', 'sk_msg_rd_bool', 'sk_msg_wr_bool', 1),
    'uuid': ('sk_uuid_t', 'sk_rd_uuid', None, 16),
}
VARLEN = {'string': 'sk_str_t', 'bytes': 'sk_bytes_t', 'records': 'sk_records_t'}
C_KEYWORDS = {'auto', 'break', 'case', 'char', 'const', 'continue', 'default', 'do', 'double', 'else',
              'enum', 'extern', 'float', 'for', 'goto', 'if', 'inline', 'int', 'long', 'register',
              'restrict', 'return', 'short', 'signed', 'sizeof', 'static', 'struct', 'switch',
              'typedef', 'union', 'unsigned', 'void', 'volatile', 'while', 'bool', 'true', 'false'}


class DefError(Exception):
    pass


def snake(name):
    s = re.sub(r'([A-Z]+)([A-Z][a-z])', r'\1_\2', name)
    s = re.sub(r'([a-z0-9])([A-Z])', r'\1_\2', s)
    s = s.lower()
    if s in C_KEYWORDS:
        s += '_'
    return s


def parse_versions(text, lo, hi, where):
    """'none', 'N', 'N+', 'A-B' or a comma list of those -> set of versions within [lo, hi]."""
    out = set()
    if text == 'none':
        return out
    for part in text.split(','):
        m = re.fullmatch(r'(\d+)(\+|-(\d+))?', part)
        if not m:
            raise DefError('%s: bad version range %r' % (where, text))
        a = int(m.group(1))
        if m.group(2) == '+':
            b = hi
        elif m.group(3) is not None:
            b = int(m.group(3))
        else:
            b = a
        if b < a:
            raise DefError('%s: empty version range %r' % (where, text))
        out |= set(v for v in range(a, b + 1) if lo <= v <= hi)
    return out


def cond(vs, lo, hi):
    """C condition on `version` true exactly for the versions in vs (within [lo, hi])."""
    vs = sorted(vs)
    if not vs:
        return '0'
    if vs == list(range(lo, hi + 1)):
        return '1'
    ranges = []
    start = prev = vs[0]
    for v in vs[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        ranges.append((start, prev))
        if v is not None:
            start = prev = v
    terms = []
    for a, b in ranges:
        t = []
        if a > lo:
            t.append('version >= %d' % a)
        if b < hi:
            t.append('version <= %d' % b)
        if a == b and a > lo and b < hi:
            t = ['version == %d' % a]
        terms.append(' && '.join(t) if t else '1')
    if len(terms) == 1:
        return terms[0]
    return ' || '.join('(%s)' % t for t in terms)


def vtext(vs):
    vs = sorted(vs)
    if not vs:
        return 'none'
    if vs == list(range(vs[0], vs[-1] + 1)):
        return '%d-%d' % (vs[0], vs[-1]) if vs[0] != vs[-1] else '%d' % vs[0]
    return ','.join(str(v) for v in vs)


class Field:
    def __init__(self):
        self.name = ''
        self.cname = ''
        self.type = ''       # as written: int32, string, []int32, []Foo, Foo
        self.elem = ''       # element type for arrays, else same as type
        self.is_array = False
        self.struct = None   # Struct for struct or array-of-struct fields
        self.versions = set()
        self.nullable = set()
        self.tag = None
        self.tagged = set()
        self.default = None  # text or None
        self.flex = None     # set of versions where this field uses compact encodings, None = message's
        self.line = ''


class Struct:
    def __init__(self, msg, name, top):
        self.msg = msg
        self.name = name
        self.top = top
        self.fields = []
        self.ctype = 'sk_%s_t' % name if top else 'sk_%s_%s_t' % (msg.name, name)
        self.fn = name if top else '%s_%s' % (msg.name, name)
        self.versions = set()  # versions in which this struct can appear


class Message:
    def __init__(self, kind, name, lo, hi, flex, deffile):
        self.kind = kind
        self.name = name
        self.lo = lo
        self.hi = hi
        self.flex = flex
        self.deffile = deffile
        self.structs = {}
        self.root = Struct(self, name, True)
        self.root.versions = set(range(lo, hi + 1))

    def all_structs(self):
        """Structs children-first, so each C typedef follows the types it embeds."""
        out = []

        def walk(s):
            for f in s.fields:
                if f.struct is not None and f.struct not in out:
                    walk(f.struct)
            if s not in out:
                out.append(s)
        walk(self.root)
        return out


class DefFile:
    def __init__(self, path):
        self.path = path
        self.base = os.path.splitext(os.path.basename(path))[0]
        self.api = None
        self.key = None
        self.messages = []


def parse_field(tokens, msg, where):
    if len(tokens) < 3:
        raise DefError('%s: field needs name, type and versions' % where)
    f = Field()
    f.line = where
    f.name, f.type = tokens[0], tokens[1]
    if not re.fullmatch(r'[A-Z][A-Za-z0-9]*', f.name):
        raise DefError('%s: field name %r must be CamelCase' % (where, f.name))
    f.cname = snake(f.name)
    f.versions = parse_versions(tokens[2], msg.lo, msg.hi, where)
    for t in tokens[3:]:
        if '=' not in t:
            raise DefError('%s: expected key=value, got %r' % (where, t))
        k, v = t.split('=', 1)
        if k == 'nullable':
            f.nullable = parse_versions(v, msg.lo, msg.hi, where)
        elif k == 'tag':
            f.tag = int(v)
        elif k == 'tagged':
            f.tagged = parse_versions(v, msg.lo, msg.hi, where)
        elif k == 'default':
            f.default = v
        elif k == 'flex':
            f.flex = parse_versions(v, msg.lo, msg.hi, where)
        else:
            raise DefError('%s: unknown attribute %r' % (where, k))
    f.is_array = f.type.startswith('[]')
    f.elem = f.type[2:] if f.is_array else f.type
    if (f.tag is None) != (not f.tagged):
        raise DefError('%s: tag= and tagged= go together' % where)
    if not f.nullable <= f.versions or not f.tagged <= f.versions:
        raise DefError('%s: nullable/tagged versions outside the field versions' % where)
    if f.tagged and f.tagged != f.versions:
        raise DefError('%s: a field is either tagged in all its versions or in none' % where)
    if f.nullable and not (f.is_array or f.elem in VARLEN) and f.elem in PRIMS:
        raise DefError('%s: only strings, bytes, records, arrays and structs can be nullable' % where)
    if f.nullable and not f.is_array and f.elem not in VARLEN:
        # a nullable struct: an int8 marker (-1 null, 1 present), then the struct
        if f.nullable != f.versions or f.tag is not None:
            raise DefError('%s: a nullable struct is nullable in all its versions and not tagged' % where)
    return f


def is_nullable_struct(f):
    return bool(f.nullable) and not f.is_array and f.elem not in PRIMS and f.elem not in VARLEN


def parse_def(path):
    d = DefFile(path)
    msg = None
    stack = []  # (indent level, Struct)
    last_field = None
    with open(path) as fh:
        lines = fh.read().split('\n')
    for i, raw in enumerate(lines, 1):
        where = '%s:%d' % (path, i)
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        indent = len(line) - len(line.lstrip(' '))
        if indent % 2:
            raise DefError('%s: indent by two spaces' % where)
        level = indent // 2
        tokens = line.split()
        if level == 0:
            if tokens[0] == 'api' and len(tokens) == 3:
                d.api, d.key = tokens[1], int(tokens[2])
                continue
            if tokens[0] in ('request', 'response', 'header') and len(tokens) == 5 and tokens[3] == 'flex':
                m = re.fullmatch(r'(\d+)-(\d+)', tokens[2])
                if not m:
                    raise DefError('%s: message versions are A-B' % where)
                lo, hi = int(m.group(1)), int(m.group(2))
                msg = Message(tokens[0], tokens[1], lo, hi, parse_versions(tokens[4], lo, hi, where), d)
                d.messages.append(msg)
                stack = [(0, msg.root)]
                last_field = None
                continue
            raise DefError('%s: expected api/request/response/header line' % where)
        if msg is None:
            raise DefError('%s: field outside a message' % where)
        while stack and stack[-1][0] >= level:
            stack.pop()
        if not stack:
            raise DefError('%s: bad indentation' % where)
        if stack[-1][0] != level - 1:
            # one level deeper than the last struct: the children of the last field
            if last_field is None or stack[-1][0] != level - 2 or last_field.elem in PRIMS or \
                    last_field.elem in VARLEN:
                raise DefError('%s: unexpected indentation' % where)
            st = Struct(msg, last_field.elem, False)
            if st.name in msg.structs:
                raise DefError('%s: struct %s defined twice in %s' % (where, st.name, msg.name))
            msg.structs[st.name] = st
            last_field.struct = st
            stack.append((level - 1, st))
        f = parse_field(tokens, msg, where)
        parent = stack[-1][1]
        if any(g.name == f.name for g in parent.fields):
            raise DefError('%s: duplicate field %s' % (where, f.name))
        parent.fields.append(f)
        last_field = f
    # resolve struct references without children and check them
    for msg in d.messages:
        for st in list(msg.structs.values()) + [msg.root]:
            tags = set()
            for f in st.fields:
                if f.elem not in PRIMS and f.elem not in VARLEN and f.struct is None:
                    if f.elem not in msg.structs:
                        raise DefError('%s: unknown type %s' % (f.line, f.elem))
                    f.struct = msg.structs[f.elem]
                if f.elem == 'records' and f.is_array:
                    raise DefError('%s: arrays of records are not supported' % f.line)
                if f.tag is not None:
                    if f.tag in tags:
                        raise DefError('%s: duplicate tag %d' % (f.line, f.tag))
                    tags.add(f.tag)
                    if not f.tagged <= msg.flex:
                        raise DefError('%s: tagged in a non-flexible version' % f.line)
        mark_versions(msg.root)
    return d


def mark_versions(st):
    for f in st.fields:
        if f.struct is not None:
            f.struct.versions |= (f.versions & st.versions)
            mark_versions(f.struct)


def struct_min_size(st, v):
    flex = v in st.msg.flex
    n = 1 if flex else 0
    for f in st.fields:
        if v not in f.versions or f.tag is not None:
            continue
        n += field_min_size(st.msg, f, v)
    return n


def field_min_size(msg, f, v):
    compact = v in (f.flex if f.flex is not None else msg.flex)
    if f.is_array:
        return 1 if compact else 4
    if f.elem in PRIMS:
        return PRIMS[f.elem][3]
    if f.elem == 'string':
        return 1 if compact else 2
    if f.elem in ('bytes', 'records'):
        return 1 if compact else 4
    if is_nullable_struct(f):
        return 1
    return struct_min_size(f.struct, v)


def elem_min_size(msg, f):
    """Smallest encoding of one array element over the versions the array exists in."""
    if f.elem in PRIMS:
        return PRIMS[f.elem][3]
    if f.elem == 'string':
        return 1 if (f.versions & msg.flex) else 2
    vs = f.versions & f.struct.versions if f.struct else f.versions
    sizes = [struct_min_size(f.struct, v) for v in sorted(vs)] or [1]
    return max(1, min(sizes))


# ---------------------------------------------------------------- C generation helpers

def ctype_of(f):
    if f.elem in PRIMS:
        return PRIMS[f.elem][0]
    if f.elem in VARLEN:
        return VARLEN[f.elem]
    return f.struct.ctype


def int_literal(ctype, text):
    v = int(text, 0)
    if ctype == 'int64_t':
        if v == -2 ** 63:
            return 'INT64_MIN'
        return 'INT64_C(%d)' % v
    if ctype == 'int32_t' and v == -2 ** 31:
        return 'INT32_MIN'
    return str(v)


def c_string(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def default_init(f, lhs):
    """Statements that set lhs (a C lvalue) to the field's default."""
    t = ctype_of(f)
    d = f.default
    if f.is_array:
        if d == 'null':
            return ['%s_count = -1;' % lhs, '%s = NULL;' % lhs]
        return ['%s_count = 0;' % lhs, '%s = NULL;' % lhs]
    if f.elem in ('int8', 'int16', 'uint16', 'int32', 'int64'):
        return ['%s = %s;' % (lhs, int_literal(t, d) if d else '0')]
    if f.elem == 'float64':
        return ['%s = %s;' % (lhs, repr(float(d)) if d else '0.0')]
    if f.elem == 'bool':
        return ['%s = %s;' % (lhs, 'true' if d == 'true' else 'false')]
    if f.elem == 'uuid':
        return ['memset(&%s, 0, sizeof(%s));' % (lhs, lhs)]
    if f.elem == 'string':
        if d == 'null':
            return ['%s = (sk_str_t){NULL, -1};' % lhs]
        s = d if d and d != '""' else ''
        return ['%s = (sk_str_t){%s, %d};' % (lhs, c_string(s), len(s.encode()))]
    if f.elem == 'bytes':
        if d == 'null':
            return ['%s = (sk_bytes_t){NULL, -1};' % lhs]
        return ['%s = (sk_bytes_t){NULL, 0};' % lhs]
    if f.elem == 'records':
        if d == 'null' or (f.nullable and d is None):
            return ['%s = (sk_records_t){NULL, -1, NULL, 0};' % lhs]
        return ['%s = (sk_records_t){NULL, 0, NULL, 0};' % lhs]
    if is_nullable_struct(f):
        return ['sk_%s_init(&%s);' % (f.struct.fn, lhs), '%s_null = %s;' % (lhs, 'true' if d == 'null' else 'false')]
    return ['sk_%s_init(&%s);' % (f.struct.fn, lhs)]


def is_default_expr(f, m):
    """C expression true when field f of *m holds its default (decides tagged writes)."""
    x = '%s->%s' % (m, f.cname)
    d = f.default
    if f.is_array:
        return '%s_count == %d' % (x, -1 if d == 'null' else 0)
    if f.elem in ('int8', 'int16', 'uint16', 'int32', 'int64'):
        return '%s == %s' % (x, int_literal(ctype_of(f), d) if d else '0')
    if f.elem == 'float64':
        return '%s == %s' % (x, repr(float(d)) if d else '0.0')
    if f.elem == 'bool':
        return '%s == %s' % (x, 'true' if d == 'true' else 'false')
    if f.elem == 'uuid':
        return 'sk_uuid_is_zero(&%s)' % x
    if f.elem == 'string':
        if d == 'null':
            return '%s.len == -1' % x
        s = d if d and d != '""' else ''
        if not s:
            return '%s.len == 0' % x
        return 'sk_str_eq(%s, %s)' % (x, c_string(s))
    if f.elem in ('bytes', 'records'):
        return '%s.len == %d' % (x, -1 if d == 'null' else 0)
    return '%s_is_default(&%s)' % (f.struct.fn, x)


class Out:
    def __init__(self):
        self.lines = []

    def __call__(self, s='', ind=0):
        self.lines.append(('    ' * ind + s) if s else '')

    def text(self):
        return '\n'.join(self.lines) + '\n'


def compact_expr(msg, f, st_versions):
    """C expression for 'this field uses compact encodings' (flex unless the field overrides)."""
    if f.flex is None:
        return 'flex'
    c = cond(f.flex & f.versions, msg.lo, msg.hi)
    return {'1': 'true', '0': 'false'}.get(c, '(%s)' % c)


def nullable_expr(msg, f):
    c = cond(f.nullable, msg.lo, msg.hi)
    return {'1': 'true', '0': 'false'}.get(c, '(%s)' % c)


def flex_decl(msg):
    c = cond(msg.flex, msg.lo, msg.hi)
    c = {'1': 'true', '0': 'false'}.get(c, '(%s)' % c)
    return 'const bool flex = %s;' % c


# ---------------------------------------------------------------- decode

def gen_decode_value(o, msg, f, rd, lhs, compact, ind):
    """Read one non-array value of field f from reader rd into lvalue lhs."""
    if f.elem in PRIMS:
        o('rc = %s(%s, &%s);' % (PRIMS[f.elem][1], rd, lhs), ind)
    elif f.elem == 'string':
        o('rc = sk_msg_rd_str(%s, %s, %s, &%s);' % (rd, compact, nullable_expr(msg, f), lhs), ind)
    elif f.elem == 'bytes':
        o('rc = sk_msg_rd_bytes(%s, %s, %s, &%s);' % (rd, compact, nullable_expr(msg, f), lhs), ind)
    elif f.elem == 'records':
        o('rc = sk_msg_rd_records(%s, %s, %s, &%s);' % (rd, compact, nullable_expr(msg, f), lhs), ind)
    else:
        o('rc = %s_decode(%s, version, arena, &%s);' % (f.struct.fn, rd, lhs), ind)
    o('if (rc != SK_OK) goto fail;', ind)


def gen_decode_field(o, msg, f, rd, compact, ind):
    lhs = 'out->%s' % f.cname
    if is_nullable_struct(f):
        o('{', ind)
        o('int8_t marker = 0;', ind + 1)
        o('rc = sk_rd_i8(%s, &marker);' % rd, ind + 1)
        o('if (rc != SK_OK) goto fail;', ind + 1)
        o('%s_null = marker < 0;' % lhs, ind + 1)
        o('if (!%s_null) {' % lhs, ind + 1)
        gen_decode_value(o, msg, f, rd, lhs, compact, ind + 2)
        o('}', ind + 1)
        o('}', ind)
        return
    if not f.is_array:
        gen_decode_value(o, msg, f, rd, lhs, compact, ind)
        return
    minsz = elem_min_size(msg, f)
    o('rc = sk_msg_rd_count(%s, %s, %s, %d, &%s_count);' % (rd, compact, nullable_expr(msg, f), minsz, lhs), ind)
    o('if (rc != SK_OK) goto fail;', ind)
    o('if (%s_count > 0) {' % lhs, ind)
    o('%s = sk_arena_calloc(arena, (size_t)%s_count, sizeof(*%s));' % (lhs, lhs, lhs), ind + 1)
    o('if (%s == NULL) {' % lhs, ind + 1)
    o('rc = SK_ENOMEM;', ind + 2)
    o('goto fail;', ind + 2)
    o('}', ind + 1)
    o('}', ind)
    o('for (int32_t i = 0; i < %s_count; i++) {' % lhs, ind)
    if f.elem == 'string':
        o('rc = sk_msg_rd_str(%s, %s, false, &%s[i]);' % (rd, compact, lhs), ind + 1)
        o('if (rc != SK_OK) goto fail;', ind + 1)
    else:
        gen_decode_value(o, msg, f, rd, '%s[i]' % lhs, compact, ind + 1)
    o('}', ind)


def gen_decode_struct(o, st):
    msg = st.msg
    tagged = [f for f in st.fields if f.tag is not None]
    has_flex = bool(msg.flex & st.versions)
    if tagged:
        o('static int')
        o('%s_decode_tags(sk_rd_t *rd, int16_t version, sk_arena_t *arena, %s *out)' % (st.fn, st.ctype))
        o('{')
        o('uint32_t n = 0;', 1)
        o('int rc;', 1)
        o('')
        o('(void)arena;', 1)
        o('rc = sk_rd_uvarint(rd, &n);', 1)
        o('if (rc != SK_OK) goto fail;', 1)
        o('for (uint32_t k = 0; k < n; k++) {', 1)
        o('uint32_t tag = 0;', 2)
        o('sk_rd_t sub;', 2)
        o('rc = sk_msg_rd_tag(rd, &tag, &sub);', 2)
        o('if (rc != SK_OK) goto fail;', 2)
        for f in sorted(tagged, key=lambda f: f.tag):
            c = cond(f.tagged, msg.lo, msg.hi)
            o('/* %s: %s, tag %d, versions %s */' % (f.name, f.type, f.tag, vtext(f.tagged)), 2)
            o('if (tag == %d%s) {' % (f.tag, '' if c == '1' else ' && (%s)' % c), 2)
            gen_decode_field(o, msg, f, '&sub', 'true', 3)
            o('}', 2)
        o('/* other tags are unknown to this version: skipped */', 2)
        o('}', 1)
        o('return SK_OK;', 1)
        o('fail:')
        o('return rc;', 1)
        o('}')
        o('')
    o('static int')
    o('%s_decode(sk_rd_t *rd, int16_t version, sk_arena_t *arena, %s *out)' % (st.fn, st.ctype))
    o('{')
    if has_flex:
        o(flex_decl(msg), 1)
    o('int rc = SK_OK;', 1)
    o('')
    o('(void)arena;', 1)
    o('sk_%s_init(out);' % st.fn, 1)
    for f in st.fields:
        if f.tag is not None:
            continue
        vs = f.versions & st.versions
        if not vs:
            continue
        o('/* %s: %s, versions %s%s */' % (f.name, f.type, vtext(vs),
                                            ', nullable %s' % vtext(f.nullable) if f.nullable else ''), 1)
        c = cond(vs, msg.lo, msg.hi) if vs != st.versions else '1'
        compact = compact_expr(msg, f, vs) if has_flex else 'false'
        if c == '1':
            gen_decode_field(o, msg, f, 'rd', compact, 1)
        else:
            o('if (%s) {' % c, 1)
            gen_decode_field(o, msg, f, 'rd', compact, 2)
            o('}', 1)
    if has_flex:
        o('if (flex) {', 1)
        if tagged:
            o('rc = %s_decode_tags(rd, version, arena, out);' % st.fn, 2)
        else:
            o('rc = sk_msg_skip_tags(rd);', 2)
        o('if (rc != SK_OK) goto fail;', 2)
        o('}', 1)
    o('return SK_OK;', 1)
    if any(f.tag is None and (f.versions & st.versions) for f in st.fields) or has_flex:
        o('fail:')
        o('return rc;', 1)
    o('}')
    o('')


# ---------------------------------------------------------------- encode

def gen_encode_value(o, msg, f, wr, x, compact, ind):
    if f.elem in PRIMS:
        if f.elem == 'uuid':
            o('rc = sk_wr_uuid(%s, &%s);' % (wr, x), ind)
        else:
            o('rc = %s(%s, %s);' % (PRIMS[f.elem][2], wr, x), ind)
    elif f.elem == 'string':
        o('rc = sk_msg_wr_str(%s, %s, %s, %s);' % (wr, compact, nullable_expr(msg, f), x), ind)
    elif f.elem == 'bytes':
        o('rc = sk_msg_wr_bytes(%s, %s, %s, %s);' % (wr, compact, nullable_expr(msg, f), x), ind)
    elif f.elem == 'records':
        o('rc = sk_msg_wr_records(%s, %s, %s, &%s);' % (wr, compact, nullable_expr(msg, f), x), ind)
    else:
        o('rc = %s_encode(%s, version, &%s);' % (f.struct.fn, wr, x), ind)
    o('if (rc != SK_OK) goto fail;', ind)


def gen_encode_field(o, msg, f, wr, compact, ind):
    x = 'm->%s' % f.cname
    if is_nullable_struct(f):
        o('rc = sk_wr_i8(%s, %s_null ? -1 : 1);' % (wr, x), ind)
        o('if (rc != SK_OK) goto fail;', ind)
        o('if (!%s_null) {' % x, ind)
        gen_encode_value(o, msg, f, wr, x, compact, ind + 1)
        o('}', ind)
        return
    if not f.is_array:
        gen_encode_value(o, msg, f, wr, x, compact, ind)
        return
    o('rc = sk_msg_wr_count(%s, %s, %s, %s_count, %s != NULL);' % (wr, compact, nullable_expr(msg, f), x, x), ind)
    o('if (rc != SK_OK) goto fail;', ind)
    o('for (int32_t i = 0; i < %s_count; i++) {' % x, ind)
    if f.elem == 'string':
        o('rc = sk_msg_wr_str(%s, %s, false, %s[i]);' % (wr, compact, x), ind + 1)
        o('if (rc != SK_OK) goto fail;', ind + 1)
    else:
        gen_encode_value(o, msg, f, wr, '%s[i]' % x, compact, ind + 1)
    o('}', ind)


def gen_encode_struct(o, st):
    msg = st.msg
    tagged = sorted([f for f in st.fields if f.tag is not None], key=lambda f: f.tag)
    has_flex = bool(msg.flex & st.versions)
    if tagged:
        o('static int')
        o('%s_encode_tags(sk_wr_t *wr, int16_t version, const %s *m)' % (st.fn, st.ctype))
        o('{')
        o('uint32_t n = 0;', 1)
        o('sk_wr_t tmp;', 1)
        o('int rc = SK_OK;', 1)
        o('')
        o('sk_wr_init(&tmp, 0);', 1)
        conds = []
        for f in tagged:
            c = cond(f.tagged, msg.lo, msg.hi)
            cc = '!(%s)' % is_default_expr(f, 'm')
            if c != '1':
                cc = '(%s) && %s' % (c, cc)
            conds.append(cc)
            o('if (%s) n++;' % cc, 1)
        o('rc = sk_wr_uvarint(wr, n);', 1)
        o('if (rc != SK_OK) goto fail;', 1)
        for f, cc in zip(tagged, conds):
            o('/* %s: %s, tag %d, versions %s */' % (f.name, f.type, f.tag, vtext(f.tagged)), 1)
            o('if (%s) {' % cc, 1)
            o('sk_wr_reset(&tmp);', 2)
            gen_encode_field(o, msg, f, '&tmp', 'true', 2)
            o('rc = sk_msg_wr_tagged(wr, %d, &tmp);' % f.tag, 2)
            o('if (rc != SK_OK) goto fail;', 2)
            o('}', 1)
        o('sk_wr_deinit(&tmp);', 1)
        o('return SK_OK;', 1)
        o('fail:')
        o('sk_wr_deinit(&tmp);', 1)
        o('return rc;', 1)
        o('}')
        o('')
    o('static int')
    o('%s_encode(sk_wr_t *wr, int16_t version, const %s *m)' % (st.fn, st.ctype))
    o('{')
    if has_flex:
        o(flex_decl(msg), 1)
    o('int rc = SK_OK;', 1)
    o('')
    for f in st.fields:
        if f.tag is not None:
            continue
        vs = f.versions & st.versions
        if not vs:
            continue
        o('/* %s: %s, versions %s */' % (f.name, f.type, vtext(vs)), 1)
        c = cond(vs, msg.lo, msg.hi) if vs != st.versions else '1'
        compact = compact_expr(msg, f, vs) if has_flex else 'false'
        if c == '1':
            gen_encode_field(o, msg, f, 'wr', compact, 1)
        else:
            o('if (%s) {' % c, 1)
            gen_encode_field(o, msg, f, 'wr', compact, 2)
            o('}', 1)
    if has_flex:
        o('if (flex) {', 1)
        if tagged:
            o('rc = %s_encode_tags(wr, version, m);' % st.fn, 2)
        else:
            o('rc = sk_wr_uvarint(wr, 0);', 2)
        o('if (rc != SK_OK) goto fail;', 2)
        o('}', 1)
    o('return SK_OK;', 1)
    if any(f.tag is None and (f.versions & st.versions) for f in st.fields) or has_flex:
        o('fail:')
        o('return rc;', 1)
    o('}')
    o('')


def gen_is_default(o, st):
    o('static bool')
    o('%s_is_default(const %s *m)' % (st.fn, st.ctype))
    o('{')
    if not st.fields:
        o('(void)m;', 1)
        o('return true;', 1)
    else:
        exprs = [is_default_expr(f, 'm') for f in st.fields]
        o('return ' + ('\n        && '.join(exprs)) + ';', 1)
    o('}')
    o('')


def gen_init(o, st):
    o('void')
    o('sk_%s_init(%s *m)' % (st.fn, st.ctype))
    o('{')
    o('memset(m, 0, sizeof(*m));', 1)
    for f in st.fields:
        for s in default_init(f, 'm->%s' % f.cname):
            o(s, 1)
    o('}')
    o('')


def tagged_struct_users(msg):
    """Structs whose default-ness must be tested (tagged struct fields, recursively)."""
    need = []

    def add(st):
        if st in need:
            return
        for f in st.fields:
            if f.struct is not None and not f.is_array:
                add(f.struct)
        need.append(st)
    for st in msg.all_structs():
        for f in st.fields:
            if f.tag is not None and f.struct is not None and not f.is_array:
                add(f.struct)
    return need


def gen_msg_c(d):
    o = Out()
    o('/* generated by tools/gen_protocol.py from %s.def; do not edit */' % d.base)
    o('/* protocol/msg_%s.c: init, decode and encode of %s.' % (d.base, ', '.join(m.name for m in d.messages)))
    o(' * Decoders borrow strings, bytes and records from the input and allocate arrays from')
    o(' * the arena; encoders skip fields absent in the version and write tagged fields only')
    o(' * when they differ from their default. */')
    o('#include "protocol/protocol.h"')
    o('')
    for msg in d.messages:
        structs = msg.all_structs()
        for st in structs:
            o('static int %s_decode(sk_rd_t *rd, int16_t version, sk_arena_t *arena, %s *out);' % (st.fn, st.ctype))
            o('static int %s_encode(sk_wr_t *wr, int16_t version, const %s *m);' % (st.fn, st.ctype))
        o('')
        for st in structs:
            gen_init(o, st)
        for st in tagged_struct_users(msg):
            gen_is_default(o, st)
        for st in structs:
            gen_decode_struct(o, st)
            gen_encode_struct(o, st)
        r = msg.root
        o('int')
        o('sk_%s_decode(sk_rd_t *rd, int16_t version, sk_arena_t *arena, %s *out)' % (msg.name, r.ctype))
        o('{')
        o('if (version < %d || version > %d) return SK_EUNSUP;' % (msg.lo, msg.hi), 1)
        o('return %s_decode(rd, version, arena, out);' % r.fn, 1)
        o('}')
        o('')
        o('int')
        o('sk_%s_encode(sk_wr_t *wr, int16_t version, const %s *m)' % (msg.name, r.ctype))
        o('{')
        o('if (version < %d || version > %d) return SK_EUNSUP;' % (msg.lo, msg.hi), 1)
        o('return %s_encode(wr, version, m);' % r.fn, 1)
        o('}')
        o('')
    return o.text()


# ---------------------------------------------------------------- msgs.h

def upper_snake(name):
    return snake(name).rstrip('_').upper()


def gen_struct_decl(o, st):
    o('typedef struct %s {' % st.ctype[:-2])
    if not st.fields:
        o('char unused_; /* no fields */', 1)
    for f in st.fields:
        t = ctype_of(f)
        info = 'versions %s' % vtext(f.versions)
        if f.nullable:
            info += ', nullable %s' % vtext(f.nullable)
        if f.tag is not None:
            info += ', tag %d' % f.tag
        if f.default is not None:
            info += ', default %s' % f.default
        if f.is_array:
            o('int32_t %s_count; /* -1 = null */' % f.cname, 1)
            o('%s *%s; /* borrowed: decode arena; %s */' % (t, f.cname, info), 1)
        else:
            extra = ' borrowed: input;' if f.elem in VARLEN else ''
            o('%s %s; /*%s %s */' % (t, f.cname, extra, info), 1)
            if is_nullable_struct(f):
                o('bool %s_null; /* true: the struct is null (%s ignored) */' % (f.cname, f.cname), 1)
    o('} %s;' % st.ctype)
    o('')


HELPERS_H = r'''/* ---- wire helpers shared by the generated codecs (defined in api_table.c) ----
 * compact: flexible-version encoding (uvarint length + 1); nullable: whether -1/null is
 * allowed. Readers return SK_ECORRUPT on malformed input, writers SK_EINVAL on a value
 * the version cannot carry (null where not nullable, a string over 32767 bytes in the
 * int16 form) and SK_ENOMEM when the writer fails. */
int sk_msg_rd_bool(sk_rd_t *rd, bool *v);
int sk_msg_rd_str(sk_rd_t *rd, bool compact, bool nullable, sk_str_t *out);
int sk_msg_rd_bytes(sk_rd_t *rd, bool compact, bool nullable, sk_bytes_t *out);
int sk_msg_rd_records(sk_rd_t *rd, bool compact, bool nullable, sk_records_t *out);
/* Array count; checks count * min_elem_bytes against the bytes left before any alloc. */
int sk_msg_rd_count(sk_rd_t *rd, bool compact, bool nullable, size_t min_elem_bytes, int32_t *count);
/* One tagged field: reads tag and size, sets *sub to its bytes and moves rd past them. */
int sk_msg_rd_tag(sk_rd_t *rd, uint32_t *tag, sk_rd_t *sub);
int sk_msg_skip_tags(sk_rd_t *rd);
int sk_msg_wr_bool(sk_wr_t *wr, bool v);
int sk_msg_wr_str(sk_wr_t *wr, bool compact, bool nullable, sk_str_t s);
int sk_msg_wr_bytes(sk_wr_t *wr, bool compact, bool nullable, sk_bytes_t b);
int sk_msg_wr_records(sk_wr_t *wr, bool compact, bool nullable, const sk_records_t *r);
int sk_msg_wr_count(sk_wr_t *wr, bool compact, bool nullable, int32_t count, bool have_items);
/* Writes tag, size and the memory bytes of val (which holds no file parts). */
int sk_msg_wr_tagged(sk_wr_t *wr, uint32_t tag, const sk_wr_t *val);
'''

API_DESC_H = r'''/* ---- the API table: one entry per API defined in src/protocol/defs, sorted by key ---- */
typedef struct sk_api_desc {
    int16_t key;
    const char *name;                /* "Produce" */
    int16_t min_version, max_version; /* versions our codec handles */
    int16_t first_flexible;          /* -1 = never flexible */
    size_t request_size, response_size; /* sizeof the structs */
    void (*init_request)(void *m);
    void (*init_response)(void *m);
    int (*decode_request)(sk_rd_t *, int16_t, sk_arena_t *, void *);
    int (*encode_request)(sk_wr_t *, int16_t, const void *);
    int (*decode_response)(sk_rd_t *, int16_t, sk_arena_t *, void *);
    int (*encode_response)(sk_wr_t *, int16_t, const void *);
} sk_api_desc_t;
extern const sk_api_desc_t sk_api_descs[];
extern const size_t sk_api_desc_count;
const sk_api_desc_t *sk_api_desc(int16_t key); /* NULL if not defined */
/* Header versions for an API version: request 2 when flexible else 1; response 1 when
 * flexible else 0, except ApiVersions responses, always 0. Unknown keys: 1 / 0. */
int16_t sk_api_request_header_version(int16_t api_key, int16_t api_version);
int16_t sk_api_response_header_version(int16_t api_key, int16_t api_version);
'''


def gen_msgs_h(defs):
    o = Out()
    o('/* generated by tools/gen_protocol.py from src/protocol/defs/ (every .def); do not edit */')
    o('/* protocol/msgs.h: one C struct per Kafka request/response (sk_<Message>_t) and per')
    o(' * nested struct (sk_<Message>_<Struct>_t), fields in snake_case. Arrays are a count')
    o(' * (-1 = null) plus items allocated from the decode arena; strings, bytes and records')
    o(' * borrow the input buffer. Included at the end of protocol/protocol.h. */')
    o('#ifndef SK_PROTOCOL_MSGS_H')
    o('#define SK_PROTOCOL_MSGS_H')
    o('')
    o('#include "common/common.h"')
    o('')
    apis = sorted([d for d in defs if d.api], key=lambda d: d.key)
    for d in apis:
        o('#define SK_API_%s %d' % (upper_snake(d.api), d.key))
    o('')
    o('/* Record data: len -1 = null. Decode borrows ptr/len from the input (file NULL).')
    o(' * Encode writes the length, then ptr bytes, or the file range when file != NULL. */')
    o('typedef struct sk_records {')
    o('const uint8_t *ptr; /* borrowed */', 1)
    o('int32_t len;', 1)
    o('sk_fref_t *file; /* borrowed: the caller holds a ref until the writer took its own */', 1)
    o('int64_t file_pos;', 1)
    o('} sk_records_t;')
    o('')
    o(HELPERS_H)
    for d in defs:
        for msg in d.messages:
            o('/* ---- %s (%s.def), versions %d-%d, flexible %s ---- */' % (
                msg.name, d.base, msg.lo, msg.hi, vtext(msg.flex)))
            for st in msg.all_structs():
                gen_struct_decl(o, st)
            for st in msg.all_structs():
                o('void sk_%s_init(%s *m);' % (st.fn, st.ctype))
            o('int sk_%s_decode(sk_rd_t *rd, int16_t version, sk_arena_t *arena, %s *out);' % (
                msg.name, msg.root.ctype))
            o('int sk_%s_encode(sk_wr_t *wr, int16_t version, const %s *m);' % (msg.name, msg.root.ctype))
            o('')
    o(API_DESC_H)
    o('/* ---- test-only (msgs_test.c, linked into tests, never into the library) ---- */')
    o('typedef struct sk_api_test_desc {')
    o('int16_t key;', 1)
    o('void (*fill_request)(void *m, int16_t version, sk_arena_t *arena, uint64_t *rng);', 1)
    o('void (*fill_response)(void *m, int16_t version, sk_arena_t *arena, uint64_t *rng);', 1)
    o('bool (*equal_request)(const void *a, const void *b);', 1)
    o('bool (*equal_response)(const void *a, const void *b);', 1)
    o('} sk_api_test_desc_t;')
    o('extern const sk_api_test_desc_t sk_api_test_descs[]; /* same order as sk_api_descs */')
    o('uint64_t sk_msg_test_rand(uint64_t *rng);')
    for d in defs:
        for msg in d.messages:
            r = msg.root
            o('void sk_%s_fill_random(%s *m, int16_t version, sk_arena_t *arena, uint64_t *rng);' % (
                msg.name, r.ctype))
            o('bool sk_%s_equal(const %s *a, const %s *b);' % (msg.name, r.ctype, r.ctype))
    o('')
    o('#endif')
    return o.text()


# ---------------------------------------------------------------- api_table.c

HELPERS_C = r'''
int
sk_msg_rd_bool(sk_rd_t *rd, bool *v)
{
    int8_t b = 0;
    int rc = sk_rd_i8(rd, &b);
    if (rc != SK_OK) return rc;
    *v = b != 0;
    return SK_OK;
}

/* Length prefix of a string/bytes/array: -1 = null; SK_ECORRUPT for anything below -1. */
static int
rd_len(sk_rd_t *rd, bool compact, int width, int64_t *len)
{
    int rc;
    if (compact) {
        uint32_t u = 0;
        rc = sk_rd_uvarint(rd, &u);
        if (rc != SK_OK) return rc;
        if (u > (uint32_t)INT32_MAX) return SK_ECORRUPT;
        *len = (int64_t)u - 1;
        return SK_OK;
    }
    if (width == 2) {
        int16_t n = 0;
        rc = sk_rd_i16(rd, &n);
        *len = n;
    } else {
        int32_t n = 0;
        rc = sk_rd_i32(rd, &n);
        *len = n;
    }
    if (rc != SK_OK) return rc;
    return *len < -1 ? SK_ECORRUPT : SK_OK;
}

/* Borrow a length-prefixed run of bytes; ptr NULL and len -1 for null. */
static int
rd_blob(sk_rd_t *rd, bool compact, bool nullable, int width, const uint8_t **ptr, int32_t *len)
{
    int64_t n = 0;
    int rc = rd_len(rd, compact, width, &n);
    if (rc != SK_OK) return rc;
    if (n == -1) {
        if (!nullable) return SK_ECORRUPT;
        *ptr = NULL;
        *len = -1;
        return SK_OK;
    }
    rc = sk_rd_raw(rd, (size_t)n, ptr);
    if (rc != SK_OK) return rc;
    *len = (int32_t)n;
    return SK_OK;
}

int
sk_msg_rd_str(sk_rd_t *rd, bool compact, bool nullable, sk_str_t *out)
{
    const uint8_t *p = NULL;
    int32_t n = 0;
    int rc = rd_blob(rd, compact, nullable, 2, &p, &n);
    if (rc != SK_OK) return rc;
    out->ptr = (const char *)p;
    out->len = n;
    return SK_OK;
}

int
sk_msg_rd_bytes(sk_rd_t *rd, bool compact, bool nullable, sk_bytes_t *out)
{
    return rd_blob(rd, compact, nullable, 4, &out->ptr, &out->len);
}

int
sk_msg_rd_records(sk_rd_t *rd, bool compact, bool nullable, sk_records_t *out)
{
    out->file = NULL;
    out->file_pos = 0;
    return rd_blob(rd, compact, nullable, 4, &out->ptr, &out->len);
}

int
sk_msg_rd_count(sk_rd_t *rd, bool compact, bool nullable, size_t min_elem_bytes, int32_t *count)
{
    int64_t n = 0;
    int rc = rd_len(rd, compact, 4, &n);
    if (rc != SK_OK) return rc;
    if (n == -1) {
        if (!nullable) return SK_ECORRUPT;
        *count = -1;
        return SK_OK;
    }
    if (min_elem_bytes == 0) min_elem_bytes = 1;
    if ((uint64_t)n > sk_rd_left(rd) / min_elem_bytes) return SK_ECORRUPT;
    *count = (int32_t)n;
    return SK_OK;
}

int
sk_msg_rd_tag(sk_rd_t *rd, uint32_t *tag, sk_rd_t *sub)
{
    uint32_t size = 0;
    const uint8_t *p = NULL;
    int rc = sk_rd_uvarint(rd, tag);
    if (rc != SK_OK) return rc;
    rc = sk_rd_uvarint(rd, &size);
    if (rc != SK_OK) return rc;
    rc = sk_rd_raw(rd, size, &p);
    if (rc != SK_OK) return rc;
    sk_rd_init(sub, p, size);
    return SK_OK;
}

int
sk_msg_skip_tags(sk_rd_t *rd)
{
    uint32_t n = 0;
    int rc = sk_rd_uvarint(rd, &n);
    if (rc != SK_OK) return rc;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t tag = 0;
        sk_rd_t sub;
        rc = sk_msg_rd_tag(rd, &tag, &sub);
        if (rc != SK_OK) return rc;
    }
    return SK_OK;
}

int
sk_msg_wr_bool(sk_wr_t *wr, bool v)
{
    return sk_wr_i8(wr, v ? 1 : 0);
}

/* Length prefix for string (width 2), bytes/records/arrays (width 4). */
static int
wr_len(sk_wr_t *wr, bool compact, bool nullable, int width, int64_t len)
{
    if (len < -1 || len >= INT32_MAX) return SK_EINVAL;
    if (len == -1 && !nullable) return SK_EINVAL;
    if (compact) return sk_wr_uvarint(wr, (uint32_t)(len + 1));
    if (width == 2) {
        if (len > INT16_MAX) return SK_EINVAL;
        return sk_wr_i16(wr, (int16_t)len);
    }
    return sk_wr_i32(wr, (int32_t)len);
}

int
sk_msg_wr_str(sk_wr_t *wr, bool compact, bool nullable, sk_str_t s)
{
    if (s.len > 0 && s.ptr == NULL) return SK_EINVAL;
    int rc = wr_len(wr, compact, nullable, 2, s.len);
    if (rc != SK_OK || s.len <= 0) return rc;
    return sk_wr_raw(wr, s.ptr, (size_t)s.len);
}

int
sk_msg_wr_bytes(sk_wr_t *wr, bool compact, bool nullable, sk_bytes_t b)
{
    if (b.len > 0 && b.ptr == NULL) return SK_EINVAL;
    int rc = wr_len(wr, compact, nullable, 4, b.len);
    if (rc != SK_OK || b.len <= 0) return rc;
    return sk_wr_raw(wr, b.ptr, (size_t)b.len);
}

int
sk_msg_wr_records(sk_wr_t *wr, bool compact, bool nullable, const sk_records_t *r)
{
    if (r->len > 0 && r->ptr == NULL && r->file == NULL) return SK_EINVAL;
    if (r->file != NULL && r->file_pos < 0) return SK_EINVAL;
    int rc = wr_len(wr, compact, nullable, 4, r->len);
    if (rc != SK_OK || r->len <= 0) return rc;
    if (r->file != NULL) return sk_wr_file(wr, r->file, r->file_pos, (size_t)r->len);
    return sk_wr_raw(wr, r->ptr, (size_t)r->len);
}

int
sk_msg_wr_count(sk_wr_t *wr, bool compact, bool nullable, int32_t count, bool have_items)
{
    if (count > 0 && !have_items) return SK_EINVAL;
    return wr_len(wr, compact, nullable, 4, count);
}

int
sk_msg_wr_tagged(sk_wr_t *wr, uint32_t tag, const sk_wr_t *val)
{
    int rc;
    SK_ASSERT(val->total_bytes == val->len); /* tagged values never hold file ranges */
    if (val->failed) return SK_ENOMEM;
    if (val->len > UINT32_MAX) return SK_EINVAL;
    rc = sk_wr_uvarint(wr, tag);
    if (rc != SK_OK) return rc;
    rc = sk_wr_uvarint(wr, (uint32_t)val->len);
    if (rc != SK_OK) return rc;
    return sk_wr_raw(wr, val->buf, val->len);
}
'''


def gen_api_table_c(defs):
    o = Out()
    o('/* generated by tools/gen_protocol.py from src/protocol/defs/ (every .def); do not edit */')
    o('/* protocol/api_table.c: the table of APIs our codecs handle (ApiVersions answers from')
    o(' * it), header versions per API version, and the wire helpers the generated codecs')
    o(' * share. Invariant: sk_api_descs is sorted by key with one entry per key. */')
    o('#include "protocol/protocol.h"')
    o(HELPERS_C)
    apis = sorted([d for d in defs if d.api], key=lambda d: d.key)
    for d in apis:
        req = next(m for m in d.messages if m.kind == 'request')
        rsp = next(m for m in d.messages if m.kind == 'response')
        for m in (req, rsp):
            o('static void %s_init_any(void *m) { sk_%s_init(m); }' % (m.name, m.name))
            o('static int %s_decode_any(sk_rd_t *rd, int16_t v, sk_arena_t *a, void *m) '
              '{ return sk_%s_decode(rd, v, a, m); }' % (m.name, m.name))
            o('static int %s_encode_any(sk_wr_t *wr, int16_t v, const void *m) '
              '{ return sk_%s_encode(wr, v, m); }' % (m.name, m.name))
    o('')
    o('const sk_api_desc_t sk_api_descs[] = {')
    for d in apis:
        req = next(m for m in d.messages if m.kind == 'request')
        rsp = next(m for m in d.messages if m.kind == 'response')
        ff = min(req.flex) if req.flex else -1
        o('{SK_API_%s, "%s", %d, %d, %d, sizeof(%s), sizeof(%s),' % (
            upper_snake(d.api), d.api, req.lo, req.hi, ff, req.root.ctype, rsp.root.ctype), 1)
        o(' %s_init_any, %s_init_any,' % (req.name, rsp.name), 1)
        o(' %s_decode_any, %s_encode_any,' % (req.name, req.name), 1)
        o(' %s_decode_any, %s_encode_any},' % (rsp.name, rsp.name), 1)
    o('};')
    o('const size_t sk_api_desc_count = sizeof(sk_api_descs) / sizeof(sk_api_descs[0]);')
    o('')
    o('const sk_api_desc_t *')
    o('sk_api_desc(int16_t key)')
    o('{')
    o('size_t lo = 0, hi = sk_api_desc_count;', 1)
    o('while (lo < hi) {', 1)
    o('size_t mid = lo + (hi - lo) / 2;', 2)
    o('if (sk_api_descs[mid].key == key) return &sk_api_descs[mid];', 2)
    o('if (sk_api_descs[mid].key < key) lo = mid + 1;', 2)
    o('else hi = mid;', 2)
    o('}', 1)
    o('return NULL;', 1)
    o('}')
    o('')
    o('static bool')
    o('api_flexible(int16_t api_key, int16_t api_version)')
    o('{')
    o('const sk_api_desc_t *d = sk_api_desc(api_key);', 1)
    o('return d != NULL && d->first_flexible >= 0 && api_version >= d->first_flexible;', 1)
    o('}')
    o('')
    o('int16_t')
    o('sk_api_request_header_version(int16_t api_key, int16_t api_version)')
    o('{')
    o('return api_flexible(api_key, api_version) ? 2 : 1;', 1)
    o('}')
    o('')
    o('int16_t')
    o('sk_api_response_header_version(int16_t api_key, int16_t api_version)')
    o('{')
    if any(d.api == 'ApiVersions' for d in apis):
        o('if (api_key == SK_API_API_VERSIONS) return 0; /* always header v0, even when flexible */', 1)
    o('return api_flexible(api_key, api_version) ? 1 : 0;', 1)
    o('}')
    return o.text()


# ---------------------------------------------------------------- msgs_test.c

def gen_fill_value(o, msg, f, lhs, ind, allow_null):
    """Random value for one non-array value of f into lvalue lhs."""
    e = f.elem
    if e in ('int8', 'int16', 'uint16', 'int32', 'int64'):
        o('%s = (%s)sk_msg_test_rand(rng);' % (lhs, PRIMS[e][0]), ind)
    elif e == 'float64':
        o('%s = (double)(int32_t)sk_msg_test_rand(rng) / 8.0;' % lhs, ind)
    elif e == 'bool':
        o('%s = (sk_msg_test_rand(rng) & 1) != 0;' % lhs, ind)
    elif e == 'uuid':
        o('test_uuid(&%s, rng);' % lhs, ind)
    elif e == 'string':
        o('%s = test_str(arena, rng, %s);' % (lhs, allow_null), ind)
    elif e == 'bytes':
        o('%s = test_bytes(arena, rng, %s);' % (lhs, allow_null), ind)
    elif e == 'records':
        o('{', ind)
        o('sk_bytes_t b = test_bytes(arena, rng, %s);' % allow_null, ind + 1)
        o('%s = (sk_records_t){b.ptr, b.len, NULL, 0};' % lhs, ind + 1)
        o('}', ind)
    else:
        o('%s_fill(&%s, version, arena, rng);' % (f.struct.fn, lhs), ind)


def gen_fill_struct(o, st):
    msg = st.msg
    o('static void')
    o('%s_fill(%s *m, int16_t version, sk_arena_t *arena, uint64_t *rng)' % (st.fn, st.ctype))
    o('{')
    o('(void)version;', 1)
    o('(void)arena;', 1)
    o('(void)rng;', 1)
    o('sk_%s_init(m);' % st.fn, 1)
    for f in st.fields:
        vs = f.versions & st.versions
        if not vs:
            continue
        c = cond(vs, msg.lo, msg.hi) if vs != st.versions else '1'
        nul = nullable_expr(msg, f)
        o('if (%s) { /* %s */' % (c, f.name), 1)
        if f.tag is not None:
            o('if (sk_msg_test_rand(rng) % 3 == 0) goto skip_{};'.format(f.cname), 2)
        x = 'm->%s' % f.cname
        if f.is_array:
            o('if (%s && sk_msg_test_rand(rng) %% 5 == 0) {' % nul, 2)
            o('%s_count = -1;' % x, 3)
            o('%s = NULL;' % x, 3)
            o('} else {', 2)
            o('%s_count = (int32_t)(sk_msg_test_rand(rng) %% 3);' % x, 3)
            o('%s = %s_count ? sk_arena_calloc(arena, (size_t)%s_count, sizeof(*%s)) : NULL;' % (x, x, x, x), 3)
            o('SK_ASSERT(%s_count == 0 || %s != NULL);' % (x, x), 3)
            o('for (int32_t i = 0; i < %s_count; i++) {' % x, 3)
            gen_fill_value(o, msg, f, '%s[i]' % x, 4, 'false')
            o('}', 3)
            o('}', 2)
        elif is_nullable_struct(f):
            o('%s_null = sk_msg_test_rand(rng) %% 4 == 0;' % x, 2)
            o('if (!%s_null) {' % x, 2)
            gen_fill_value(o, msg, f, x, 3, nul)
            o('}', 2)
        else:
            gen_fill_value(o, msg, f, x, 2, nul)
        if f.tag is not None:
            o('skip_%s:;' % f.cname, 1)
        o('}', 1)
    o('}')
    o('')


def gen_equal_value(f, a, b):
    e = f.elem
    if e in ('int8', 'int16', 'uint16', 'int32', 'int64', 'bool'):
        return '%s == %s' % (a, b)
    if e == 'float64':
        return 'memcmp(&%s, &%s, sizeof(double)) == 0' % (a, b)
    if e == 'uuid':
        return 'memcmp(%s.b, %s.b, 16) == 0' % (a, b)
    if e == 'string':
        return 'test_blob_eq(%s.ptr, %s.len, %s.ptr, %s.len)' % (a, a, b, b)
    if e in ('bytes', 'records'):
        return 'test_blob_eq(%s.ptr, %s.len, %s.ptr, %s.len)' % (a, a, b, b)
    return '%s_eq(&%s, &%s)' % (f.struct.fn, a, b)


def gen_equal_struct(o, st):
    o('static bool')
    o('%s_eq(const %s *a, const %s *b)' % (st.fn, st.ctype, st.ctype))
    o('{')
    o('(void)a;', 1)
    o('(void)b;', 1)
    for f in st.fields:
        x, y = 'a->%s' % f.cname, 'b->%s' % f.cname
        what = '"%s.%s"' % (st.fn, f.cname)
        if f.is_array:
            o('if (%s_count != %s_count) return test_differ(%s);' % (x, y, what), 1)
            o('for (int32_t i = 0; i < %s_count; i++) {' % x, 1)
            o('if (!(%s)) return test_differ(%s);' % (gen_equal_value(f, x + '[i]', y + '[i]'), what), 2)
            o('}', 1)
        elif is_nullable_struct(f):
            o('if (%s_null != %s_null) return test_differ(%s);' % (x, y, what), 1)
            o('if (!%s_null && !(%s)) return test_differ(%s);' % (x, gen_equal_value(f, x, y), what), 1)
        else:
            o('if (!(%s)) return test_differ(%s);' % (gen_equal_value(f, x, y), what), 1)
    o('return true;', 1)
    o('}')
    o('')


TEST_HELPERS_C = r'''
uint64_t
sk_msg_test_rand(uint64_t *rng)
{
    /* xorshift64*: small, seedable, good enough for test values */
    uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

static void
test_uuid(sk_uuid_t *u, uint64_t *rng)
{
    for (int i = 0; i < 16; i++) u->b[i] = (uint8_t)sk_msg_test_rand(rng);
}

static sk_str_t
test_str(sk_arena_t *arena, uint64_t *rng, bool allow_null)
{
    if (allow_null && sk_msg_test_rand(rng) % 4 == 0) return (sk_str_t){NULL, -1};
    int32_t n = (int32_t)(sk_msg_test_rand(rng) % 9);
    char *p = sk_arena_alloc(arena, (size_t)n + 1);
    SK_ASSERT(p != NULL);
    for (int32_t i = 0; i < n; i++) p[i] = (char)('a' + sk_msg_test_rand(rng) % 26);
    return (sk_str_t){p, n};
}

static sk_bytes_t
test_bytes(sk_arena_t *arena, uint64_t *rng, bool allow_null)
{
    if (allow_null && sk_msg_test_rand(rng) % 4 == 0) return (sk_bytes_t){NULL, -1};
    int32_t n = (int32_t)(sk_msg_test_rand(rng) % 17);
    uint8_t *p = sk_arena_alloc(arena, (size_t)n + 1);
    SK_ASSERT(p != NULL);
    for (int32_t i = 0; i < n; i++) p[i] = (uint8_t)sk_msg_test_rand(rng);
    return (sk_bytes_t){p, n};
}

static bool
test_blob_eq(const void *a, int32_t alen, const void *b, int32_t blen)
{
    return alen == blen && (alen <= 0 || memcmp(a, b, (size_t)alen) == 0);
}

static bool
test_differ(const char *what)
{
    fprintf(stderr, "differs: %s\n", what);
    return false;
}
'''


def gen_msgs_test_c(defs):
    o = Out()
    o('/* generated by tools/gen_protocol.py from src/protocol/defs/ (every .def); do not edit */')
    o('/* protocol/msgs_test.c: test-only helpers, never linked into the library: fill a')
    o(' * message with seeded random values valid for a version (fields absent in it keep')
    o(' * their defaults) and compare two messages field by field (every field, so a decoder')
    o(' * that forgets a default is caught). Arrays and strings come from the given arena. */')
    o('#include "protocol/protocol.h"')
    o(TEST_HELPERS_C)
    for d in defs:
        for msg in d.messages:
            for st in msg.all_structs():
                o('static void %s_fill(%s *m, int16_t version, sk_arena_t *arena, uint64_t *rng);' % (
                    st.fn, st.ctype))
                o('static bool %s_eq(const %s *a, const %s *b);' % (st.fn, st.ctype, st.ctype))
    o('')
    for d in defs:
        for msg in d.messages:
            for st in msg.all_structs():
                gen_fill_struct(o, st)
                gen_equal_struct(o, st)
            r = msg.root
            o('void')
            o('sk_%s_fill_random(%s *m, int16_t version, sk_arena_t *arena, uint64_t *rng)' % (msg.name, r.ctype))
            o('{')
            o('%s_fill(m, version, arena, rng);' % r.fn, 1)
            o('}')
            o('')
            o('bool')
            o('sk_%s_equal(const %s *a, const %s *b)' % (msg.name, r.ctype, r.ctype))
            o('{')
            o('return %s_eq(a, b);' % r.fn, 1)
            o('}')
            o('')
    apis = sorted([d for d in defs if d.api], key=lambda d: d.key)
    for d in apis:
        for m in d.messages:
            o('static void %s_fill_any(void *m, int16_t v, sk_arena_t *a, uint64_t *rng) '
              '{ sk_%s_fill_random(m, v, a, rng); }' % (m.name, m.name))
            o('static bool %s_equal_any(const void *a, const void *b) { return sk_%s_equal(a, b); }' % (
                m.name, m.name))
    o('')
    o('const sk_api_test_desc_t sk_api_test_descs[] = {')
    for d in apis:
        req = next(m for m in d.messages if m.kind == 'request')
        rsp = next(m for m in d.messages if m.kind == 'response')
        o('{SK_API_%s, %s_fill_any, %s_fill_any, %s_equal_any, %s_equal_any},' % (
            upper_snake(d.api), req.name, rsp.name, req.name, rsp.name), 1)
    o('};')
    return o.text()


# ---------------------------------------------------------------- main

def write_if_changed(path, text):
    """Always rewrites (the build compares timestamps), atomically via a temporary file."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv):
    if '--out' not in argv or argv.index('--out') + 1 >= len(argv):
        sys.stderr.write('usage: gen_protocol.py --out <dir> <file.def>...\n')
        return 2
    i = argv.index('--out')
    out = argv[i + 1]
    paths = [a for j, a in enumerate(argv) if j not in (i, i + 1)]
    try:
        defs = [parse_def(p) for p in sorted(paths, key=os.path.basename)]
        keys = {}
        names = set()
        for d in defs:
            if d.api:
                if d.key in keys:
                    raise DefError('%s: API key %d also in %s' % (d.path, d.key, keys[d.key]))
                keys[d.key] = d.path
                kinds = sorted(m.kind for m in d.messages)
                if kinds != ['request', 'response']:
                    raise DefError('%s: an api file holds one request and one response' % d.path)
                req, rsp = sorted(d.messages, key=lambda m: m.kind)
                if (req.lo, req.hi, req.flex) != (rsp.lo, rsp.hi, rsp.flex):
                    raise DefError('%s: request and response versions differ' % d.path)
            for m in d.messages:
                if m.name in names:
                    raise DefError('%s: message %s defined twice' % (d.path, m.name))
                names.add(m.name)
    except (DefError, OSError, ValueError) as e:
        sys.stderr.write('gen_protocol: %s\n' % e)
        return 1
    os.makedirs(out, exist_ok=True)
    write_if_changed(os.path.join(out, 'msgs.h'), gen_msgs_h(defs))
    write_if_changed(os.path.join(out, 'api_table.c'), gen_api_table_c(defs))
    write_if_changed(os.path.join(out, 'msgs_test.c'), gen_msgs_test_c(defs))
    for d in defs:
        write_if_changed(os.path.join(out, 'msg_%s.c' % d.base), gen_msg_c(d))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
