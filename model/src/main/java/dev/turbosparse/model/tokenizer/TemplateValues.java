package dev.turbosparse.model.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Python's semantics for the values a template handles: str, int, float, bool, None, list, dict. */
final class TemplateValues {

    private TemplateValues() {}

    /** A name or key that is not there: false, empty when printed, an error when used further. */
    static final Object UNDEFINED = new Object() {
        @Override
        public String toString() {
            return "";
        }
    };

    record Call(List<Object> positional, Map<String, Object> named) {
        Object arg(int k, String name, Object otherwise) {
            if (k < positional.size()) {
                return positional.get(k);
            }
            return named.getOrDefault(name, otherwise);
        }
    }

    private static final Object RAISE = new Object();
    private static final Object NAMESPACE = new Object();
    private static final Object RANGE = new Object();

    static boolean truthy(Object v) {
        if (v == null || v == UNDEFINED) {
            return false;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        if (v instanceof Long l) {
            return l != 0;
        }
        if (v instanceof Double d) {
            return d != 0;
        }
        if (v instanceof String s) {
            return !s.isEmpty();
        }
        if (v instanceof List<?> l) {
            return !l.isEmpty();
        }
        if (v instanceof Map<?, ?> m) {
            return !m.isEmpty();
        }
        return true;
    }

    /** What {{ v }} prints: Python's str(). */
    static String str(Object v) {
        if (v == UNDEFINED) {
            return "";
        }
        if (v instanceof String s) {
            return s;
        }
        return repr(v);
    }

    static String repr(Object v) {
        if (v == null) {
            return "None";
        }
        if (v == UNDEFINED) {
            return "";
        }
        if (v instanceof Boolean b) {
            return b ? "True" : "False";
        }
        if (v instanceof Double d) {
            return d == Math.rint(d) && !Double.isInfinite(d) ? String.format(Locale.ROOT, "%.1f", d) : Double.toString(d);
        }
        if (v instanceof String s) {
            return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'";
        }
        if (v instanceof List<?> l) {
            StringBuilder b = new StringBuilder("[");
            for (int k = 0; k < l.size(); k++) {
                b.append(k > 0 ? ", " : "").append(repr(l.get(k)));
            }
            return b.append(']').toString();
        }
        if (v instanceof Map<?, ?> m) {
            StringBuilder b = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                b.append(first ? "" : ", ").append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
                first = false;
            }
            return b.append('}').toString();
        }
        return String.valueOf(v);
    }

    /** json.dumps as HF's tojson calls it (ensure_ascii off). */
    static String json(Object v, int line) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Boolean b) {
            return b.toString();
        }
        if (v instanceof Long || v instanceof Double) {
            return repr(v);
        }
        if (v instanceof String s) {
            StringBuilder b = new StringBuilder("\"");
            for (char c : s.toCharArray()) {
                switch (c) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    case '\n' -> b.append("\\n");
                    case '\r' -> b.append("\\r");
                    case '\t' -> b.append("\\t");
                    case '\b' -> b.append("\\b");
                    case '\f' -> b.append("\\f");
                    default -> {
                        if (c < 0x20) {
                            b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                        } else {
                            b.append(c);
                        }
                    }
                }
            }
            return b.append('"').toString();
        }
        if (v instanceof List<?> l) {
            StringBuilder b = new StringBuilder("[");
            for (int k = 0; k < l.size(); k++) {
                b.append(k > 0 ? ", " : "").append(json(l.get(k), line));
            }
            return b.append(']').toString();
        }
        if (v instanceof Map<?, ?> m) {
            StringBuilder b = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                b.append(first ? "" : ", ").append(json(String.valueOf(e.getKey()), line)).append(": ")
                        .append(json(e.getValue(), line));
                first = false;
            }
            return b.append('}').toString();
        }
        throw new ChatTemplate.RenderError(line, "cannot write " + typeName(v) + " as JSON");
    }

    static String typeName(Object v) {
        if (v == null) {
            return "None";
        }
        if (v == UNDEFINED) {
            return "an undefined value";
        }
        if (v instanceof String) {
            return "a string";
        }
        if (v instanceof Long) {
            return "an int";
        }
        if (v instanceof Double) {
            return "a float";
        }
        if (v instanceof Boolean) {
            return "a bool";
        }
        if (v instanceof List) {
            return "a list";
        }
        if (v instanceof Map) {
            return "a dict";
        }
        return "a function";
    }

    static List<Object> iterate(Object v, int line) {
        if (v instanceof List<?> l) {
            return new ArrayList<>(l);
        }
        if (v instanceof Map<?, ?> m) {
            return new ArrayList<>(m.keySet());
        }
        if (v instanceof String s) {
            List<Object> chars = new ArrayList<>();
            s.codePoints().forEach(cp -> chars.add(new String(Character.toChars(cp))));
            return chars;
        }
        throw new ChatTemplate.RenderError(line, "cannot loop over " + typeName(v));
    }

    private static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean;
    }

    private static double num(Object v) {
        return v instanceof Boolean b ? (b ? 1 : 0) : ((Number) v).doubleValue();
    }

    private static long integer(Object v) {
        return v instanceof Boolean b ? (b ? 1 : 0) : (Long) v;
    }

    static boolean equal(Object a, Object b) {
        if (a == UNDEFINED || b == UNDEFINED) {
            return a == b;
        }
        if (isNumber(a) && isNumber(b)) {
            return num(a) == num(b);
        }
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if (x.size() != y.size()) {
                return false;
            }
            for (int k = 0; k < x.size(); k++) {
                if (!equal(x.get(k), y.get(k))) {
                    return false;
                }
            }
            return true;
        }
        return java.util.Objects.equals(a, b);
    }

    static Object compare(String op, Object a, Object b, int line) {
        switch (op) {
            case "==" -> {
                return equal(a, b);
            }
            case "!=" -> {
                return !equal(a, b);
            }
            case "in", "not in" -> {
                boolean in;
                if (b instanceof String s) {
                    if (!(a instanceof String sub)) {
                        throw new ChatTemplate.RenderError(line, "'in <string>' needs a string on its left, not " + typeName(a));
                    }
                    in = s.contains(sub);
                } else if (b instanceof List<?> l) {
                    in = l.stream().anyMatch(x -> equal(x, a));
                } else if (b instanceof Map<?, ?> m) {
                    in = m.containsKey(a);
                } else {
                    throw new ChatTemplate.RenderError(line, "'in' needs a string, list or dict on its right, not " + typeName(b));
                }
                return op.equals("in") == in;
            }
            default -> {
                int c;
                if (isNumber(a) && isNumber(b)) {
                    c = Double.compare(num(a), num(b));
                } else if (a instanceof String x && b instanceof String y) {
                    c = x.compareTo(y);
                } else {
                    throw new ChatTemplate.RenderError(line, "cannot compare " + typeName(a) + " with " + typeName(b));
                }
                return switch (op) {
                    case "<" -> c < 0;
                    case "<=" -> c <= 0;
                    case ">" -> c > 0;
                    default -> c >= 0;
                };
            }
        }
    }

    static Object arithmetic(String op, Object a, Object b, int line) {
        if (op.equals("+")) {
            if (a instanceof String x && b instanceof String y) {
                return x + y;
            }
            if (a instanceof List<?> x && b instanceof List<?> y) {
                List<Object> l = new ArrayList<>(x);
                l.addAll(y);
                return l;
            }
        }
        if (op.equals("*") && (a instanceof String || b instanceof String) && (isNumber(a) || isNumber(b))) {
            String text = a instanceof String x ? x : (String) b;
            long times = integer(a instanceof String ? b : a);
            return times <= 0 ? "" : text.repeat((int) times);
        }
        if (op.equals("%") && a instanceof String) {
            throw new ChatTemplate.RenderError(line, "string formatting with '%' is not supported");
        }
        if (!isNumber(a) || !isNumber(b)) {
            throw new ChatTemplate.RenderError(line, "cannot apply '" + op + "' to " + typeName(a) + " and " + typeName(b));
        }
        boolean ints = !(a instanceof Double) && !(b instanceof Double);
        switch (op) {
            case "+" -> {
                return ints ? (Object) (integer(a) + integer(b)) : num(a) + num(b);
            }
            case "-" -> {
                return ints ? (Object) (integer(a) - integer(b)) : num(a) - num(b);
            }
            case "*" -> {
                return ints ? (Object) (integer(a) * integer(b)) : num(a) * num(b);
            }
            case "/" -> {
                if (num(b) == 0) {
                    throw new ChatTemplate.RenderError(line, "division by zero");
                }
                return num(a) / num(b);
            }
            case "//" -> {
                if (num(b) == 0) {
                    throw new ChatTemplate.RenderError(line, "division by zero");
                }
                return ints ? (Object) Math.floorDiv(integer(a), integer(b)) : Math.floor(num(a) / num(b));
            }
            default -> { // %
                if (num(b) == 0) {
                    throw new ChatTemplate.RenderError(line, "modulo by zero");
                }
                if (ints) {
                    return Math.floorMod(integer(a), integer(b));
                }
                double r = num(a) % num(b);
                return r != 0 && (r < 0) != (num(b) < 0) ? r + num(b) : r;
            }
        }
    }

    static Object attribute(Object target, String name, int line) {
        if (target instanceof Map<?, ?> m) {
            return m.containsKey(name) ? m.get(name) : UNDEFINED;
        }
        if (target == UNDEFINED) {
            throw new ChatTemplate.RenderError(line, "'" + name + "' of an undefined value");
        }
        return UNDEFINED;
    }

    static Object item(Object target, Object key, int line) {
        if (target instanceof Map<?, ?> m) {
            return m.containsKey(key) ? m.get(key) : UNDEFINED;
        }
        if (target instanceof List<?> l && key instanceof Long k) {
            long at = k < 0 ? l.size() + k : k;
            if (at < 0 || at >= l.size()) {
                throw new ChatTemplate.RenderError(line, "index " + k + " is out of range for a list of " + l.size());
            }
            return l.get((int) at);
        }
        if (target instanceof String s && key instanceof Long k) {
            List<Object> chars = iterate(s, line);
            long at = k < 0 ? chars.size() + k : k;
            if (at < 0 || at >= chars.size()) {
                throw new ChatTemplate.RenderError(line, "index " + k + " is out of range for a string of " + chars.size());
            }
            return chars.get((int) at);
        }
        if (target == UNDEFINED) {
            throw new ChatTemplate.RenderError(line, "[" + repr(key) + "] of an undefined value");
        }
        if (target instanceof Map || target instanceof List || target instanceof String) {
            throw new ChatTemplate.RenderError(line, "cannot index " + typeName(target) + " with " + typeName(key));
        }
        return UNDEFINED;
    }

    static Object slice(Object target, Object start, Object stop, Object step, int line) {
        List<Object> items;
        if (target instanceof List<?> l) {
            items = new ArrayList<>(l);
        } else if (target instanceof String s) {
            items = iterate(s, line);
        } else {
            throw new ChatTemplate.RenderError(line, "cannot slice " + typeName(target));
        }
        int n = items.size();
        long st = step == null ? 1 : integer(step);
        if (st == 0) {
            throw new ChatTemplate.RenderError(line, "slice step cannot be zero");
        }
        long a = start == null ? (st > 0 ? 0 : n - 1) : bound(integer(start), n, st);
        long b = stop == null ? (st > 0 ? n : -1) : bound(integer(stop), n, st);
        List<Object> out = new ArrayList<>();
        for (long k = a; st > 0 ? k < b : k > b; k += st) {
            out.add(items.get((int) k));
        }
        if (target instanceof String) {
            StringBuilder sb = new StringBuilder();
            out.forEach(o -> sb.append((String) o));
            return sb.toString();
        }
        return out;
    }

    private static long bound(long v, int n, long step) {
        if (v < 0) {
            v += n;
            if (v < 0) {
                return step > 0 ? 0 : -1;
            }
        }
        return step > 0 ? Math.min(v, n) : Math.min(v, n - 1);
    }

    static Object call(Object f, Call args, int line) {
        if (f == RAISE) {
            throw new ChatTemplate.Raised(str(args.arg(0, "message", "")));
        }
        if (f == NAMESPACE) {
            ChatTemplate.Namespace ns = new ChatTemplate.Namespace();
            if (!args.positional().isEmpty() && args.positional().getFirst() instanceof Map<?, ?> m) {
                m.forEach((k, v) -> ns.put(String.valueOf(k), v));
            }
            ns.putAll(args.named());
            return ns;
        }
        if (f == RANGE) {
            List<Object> p = args.positional();
            long from = p.size() > 1 ? integer(p.get(0)) : 0;
            long to = integer(p.size() > 1 ? p.get(1) : p.get(0));
            long step = p.size() > 2 ? integer(p.get(2)) : 1;
            List<Object> out = new ArrayList<>();
            for (long k = from; step > 0 ? k < to : k > to; k += step) {
                out.add(k);
            }
            return out;
        }
        throw new ChatTemplate.RenderError(line, "cannot call " + typeName(f) + (f == UNDEFINED ? " (an unknown function)" : ""));
    }

    static Object method(Object target, String name, Call args, int line) {
        if (target instanceof String s) {
            switch (name) {
                case "strip", "lstrip", "rstrip" -> {
                    Object chars = args.arg(0, "chars", null);
                    return strip(s, chars == null ? null : str(chars), name);
                }
                case "upper" -> {
                    return s.toUpperCase(Locale.ROOT);
                }
                case "lower" -> {
                    return s.toLowerCase(Locale.ROOT);
                }
                case "title" -> {
                    return title(s);
                }
                case "capitalize" -> {
                    return capitalize(s);
                }
                case "startswith" -> {
                    return s.startsWith(str(args.arg(0, "prefix", "")));
                }
                case "endswith" -> {
                    return s.endsWith(str(args.arg(0, "suffix", "")));
                }
                case "replace" -> {
                    return s.replace(str(args.arg(0, "old", "")), str(args.arg(1, "new", "")));
                }
                case "split" -> {
                    Object sep = args.arg(0, "sep", null);
                    List<Object> parts = new ArrayList<>();
                    if (sep == null) {
                        for (String p : s.strip().split("\\s+")) {
                            if (!p.isEmpty()) {
                                parts.add(p);
                            }
                        }
                    } else {
                        parts.addAll(List.of(s.split(java.util.regex.Pattern.quote(str(sep)), -1)));
                    }
                    return parts;
                }
                default -> {
                }
            }
        }
        if (target instanceof Map<?, ?> m) {
            switch (name) {
                case "items" -> {
                    List<Object> pairs = new ArrayList<>();
                    m.forEach((k, v) -> pairs.add(java.util.Arrays.asList(k, v))); // v may be None
                    return pairs;
                }
                case "keys" -> {
                    return new ArrayList<Object>(m.keySet());
                }
                case "values" -> {
                    return new ArrayList<Object>(m.values());
                }
                case "get" -> {
                    Object k = args.arg(0, "key", null);
                    return m.containsKey(k) ? m.get(k) : args.arg(1, "default", null);
                }
                default -> {
                }
            }
        }
        throw new ChatTemplate.RenderError(line, typeName(target) + " has no method '" + name + "' here");
    }

    private static String strip(String s, String chars, String which) {
        int a = 0;
        int b = s.length();
        boolean left = !which.equals("rstrip");
        boolean right = !which.equals("lstrip");
        while (left && a < b && (chars == null ? Character.isWhitespace(s.charAt(a)) : chars.indexOf(s.charAt(a)) >= 0)) {
            a++;
        }
        while (right && b > a && (chars == null ? Character.isWhitespace(s.charAt(b - 1)) : chars.indexOf(s.charAt(b - 1)) >= 0)) {
            b--;
        }
        return s.substring(a, b);
    }

    private static String capitalize(String s) {
        return s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
    }

    private static String title(String s) {
        StringBuilder b = new StringBuilder();
        boolean start = true;
        for (char c : s.toCharArray()) {
            b.append(start ? Character.toUpperCase(c) : Character.toLowerCase(c));
            start = !Character.isLetter(c);
        }
        return b.toString();
    }

    static Object filter(String f, Object v, Call args, int line) {
        switch (f) {
            case "trim" -> {
                return strip(str(v), null, "strip");
            }
            case "length", "count" -> {
                if (v instanceof String s) {
                    return (long) s.codePointCount(0, s.length());
                }
                if (v instanceof List<?> l) {
                    return (long) l.size();
                }
                if (v instanceof Map<?, ?> m) {
                    return (long) m.size();
                }
                throw new ChatTemplate.RenderError(line, "'length' of " + typeName(v));
            }
            case "upper" -> {
                return str(v).toUpperCase(Locale.ROOT);
            }
            case "lower" -> {
                return str(v).toLowerCase(Locale.ROOT);
            }
            case "capitalize" -> {
                return capitalize(str(v));
            }
            case "title" -> {
                return title(str(v));
            }
            case "first", "last" -> {
                List<Object> l = iterate(v, line);
                return l.isEmpty() ? UNDEFINED : f.equals("first") ? l.getFirst() : l.getLast();
            }
            case "join" -> {
                StringBuilder b = new StringBuilder();
                String sep = str(args.arg(0, "d", ""));
                List<Object> l = iterate(v, line);
                for (int k = 0; k < l.size(); k++) {
                    b.append(k > 0 ? sep : "").append(str(l.get(k)));
                }
                return b.toString();
            }
            case "default", "d" -> {
                boolean ifFalse = truthy(args.arg(1, "boolean", false));
                return v == UNDEFINED || (ifFalse && !truthy(v)) ? args.arg(0, "default_value", "") : v;
            }
            case "string" -> {
                return str(v);
            }
            case "int" -> {
                if (v instanceof Double d) {
                    return (long) (double) d;
                }
                if (isNumber(v)) {
                    return integer(v);
                }
                try {
                    return Long.parseLong(str(v).strip());
                } catch (NumberFormatException e) {
                    return args.arg(0, "default", 0L);
                }
            }
            case "float" -> {
                if (isNumber(v)) {
                    return num(v);
                }
                try {
                    return Double.parseDouble(str(v).strip());
                } catch (NumberFormatException e) {
                    return args.arg(0, "default", 0.0);
                }
            }
            case "abs" -> {
                if (v instanceof Double d) {
                    return Math.abs(d);
                }
                if (isNumber(v)) {
                    return Math.abs(integer(v));
                }
                throw new ChatTemplate.RenderError(line, "'abs' of " + typeName(v));
            }
            case "tojson" -> {
                return json(v, line);
            }
            case "list" -> {
                return iterate(v, line);
            }
            case "reverse" -> {
                if (v instanceof String s) {
                    return new StringBuilder(s).reverse().toString();
                }
                List<Object> l = iterate(v, line);
                java.util.Collections.reverse(l);
                return l;
            }
            case "replace" -> {
                return str(v).replace(str(args.arg(0, "old", "")), str(args.arg(1, "new", "")));
            }
            case "items" -> {
                return method(v, "items", args, line);
            }
            case "selectattr", "rejectattr", "select", "reject" -> {
                // selectattr(name[, test[, arg]]): the items whose attribute passes the test (truthy without one)
                boolean byAttribute = f.endsWith("attr");
                boolean keep = f.startsWith("select");
                int at = byAttribute ? 1 : 0;
                String attr = byAttribute ? str(args.arg(0, "attribute", "")) : null;
                Object testName = args.positional().size() > at ? args.positional().get(at) : null;
                Object testArg = args.positional().size() > at + 1 ? args.positional().get(at + 1) : null;
                if (testName != null && !(testName instanceof String name && TESTS.contains(name))) {
                    throw new ChatTemplate.RenderError(line, "'" + f + "' with the test " + repr(testName)
                            + ", which is not supported");
                }
                List<Object> out = new ArrayList<>();
                for (Object item : iterate(v, line)) {
                    Object value = byAttribute ? attribute(item, attr, line) : item;
                    boolean passes = testName == null ? truthy(value) : test((String) testName, value, testArg);
                    if (passes == keep) {
                        out.add(item);
                    }
                }
                return out;
            }
            case "map" -> {
                Object attr = args.named().get("attribute");
                if (attr == null) {
                    throw new ChatTemplate.RenderError(line, "'map' is supported with attribute= only");
                }
                List<Object> out = new ArrayList<>();
                for (Object item : iterate(v, line)) {
                    Object value = attribute(item, str(attr), line);
                    out.add(value == UNDEFINED && args.named().containsKey("default") ? args.named().get("default") : value);
                }
                return out;
            }
            default -> { // safe
                return v;
            }
        }
    }

    /** The tests {@link #test} knows. */
    static final java.util.Set<String> TESTS = java.util.Set.of("defined", "undefined", "none", "string", "number",
            "integer", "float", "mapping", "sequence", "iterable", "boolean", "true", "false", "even", "odd", "eq",
            "equalto", "ne");

    static boolean test(String t, Object v, Object arg) {
        return switch (t) {
            case "defined" -> v != UNDEFINED;
            case "undefined" -> v == UNDEFINED;
            case "none" -> v == null;
            case "string" -> v instanceof String;
            case "number" -> v instanceof Long || v instanceof Double;
            case "integer" -> v instanceof Long;
            case "float" -> v instanceof Double;
            case "boolean" -> v instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(v);
            case "false" -> Boolean.FALSE.equals(v);
            case "mapping" -> v instanceof Map;
            case "sequence" -> v instanceof List || v instanceof String;
            case "iterable" -> v instanceof List || v instanceof String || v instanceof Map;
            case "even" -> v instanceof Long l && l % 2 == 0;
            case "odd" -> v instanceof Long l && l % 2 != 0;
            case "eq", "equalto" -> equal(v, arg);
            default -> !equal(v, arg); // ne
        };
    }

    /** The functions a template may call, found by name before the template's own variables. */
    static Object function(String name) {
        return switch (name) {
            case "raise_exception" -> RAISE;
            case "namespace" -> NAMESPACE;
            case "range" -> RANGE;
            default -> null;
        };
    }
}
