package dev.daxload.packager.source;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A strict reader of the pickle in a {@code torch.save} archive ({@code data.pkl}): only the opcodes
 * and the globals that state dicts use. Nothing is ever called or constructed beyond dicts, lists,
 * tuples, numbers, strings and the tensor records below; any other global or opcode is refused with
 * its offset in the pickle. Python's pickle would run whatever the file names, which is why torch
 * itself now loads with {@code weights_only=True}; this is that allow-list, in Java.
 */
final class TorchPickle {
    /**
     * A storage named by a persistent id: {@code ('storage', torch.FloatStorage, key, location, numel)};
     * {@code torch.UntypedStorage} (untyped: bytes, dtype given by the tensor) for torch 2's newer dtypes.
     */
    record Storage(String dtype, int elementSize, String key, String location, long numel, boolean untyped) {}

    /**
     * {@code torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)} (dtype from the storage
     * class) or {@code _rebuild_tensor_v3(untyped storage, offset, size, stride, ..., dtype)} (the dtypes
     * torch 2 added: float8, uint16-64): a view of a storage, its offset in elements of its dtype.
     */
    record Tensor(Storage storage, String dtype, int elementSize, long offset, long[] size, long[] stride) {}

    /** A Python tuple, told apart from a list. */
    record Tuple(List<Object> items) {}

    /** A global the pickle names: a storage class or an allowed function. */
    record Global(String module, String name) {
        String qualified() {
            return module + "." + name;
        }
    }

    /** Python's None. */
    enum None { NONE }

    /** A refusal at an offset of the pickle. */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        final long offset;

        Refused(long offset, String message) {
            super(message);
            this.offset = offset;
        }
    }

    /** torch's storage classes: the dtype (safetensors name) and element size of each. */
    private static final Map<String, Storage> STORAGES = Map.ofEntries(
            storage("FloatStorage", "F32", 4), storage("DoubleStorage", "F64", 8), storage("HalfStorage", "F16", 2),
            storage("BFloat16Storage", "BF16", 2), storage("LongStorage", "I64", 8), storage("IntStorage", "I32", 4),
            storage("ShortStorage", "I16", 2), storage("CharStorage", "I8", 1), storage("ByteStorage", "U8", 1),
            storage("BoolStorage", "BOOL", 1), storage("ComplexFloatStorage", "C64", 8),
            storage("UntypedStorage", "U8", 1));

    /** The dtypes torch 2 pickles by name for _rebuild_tensor_v3, with their safetensors names and sizes. */
    private static final Map<String, Storage> V3_DTYPES = Map.ofEntries(
            storage("float8_e4m3fn", "F8_E4M3", 1), storage("float8_e5m2", "F8_E5M2", 1),
            storage("float8_e4m3fnuz", "F8_E4M3FNUZ", 1), storage("float8_e5m2fnuz", "F8_E5M2FNUZ", 1),
            storage("float8_e8m0fnu", "F8_E8M0", 1), storage("uint16", "U16", 2), storage("uint32", "U32", 4),
            storage("uint64", "U64", 8));

    private static Map.Entry<String, Storage> storage(String cls, String dtype, int size) {
        return Map.entry(cls, new Storage(dtype, size, null, null, 0, cls.equals("UntypedStorage")));
    }

    private static final Set<String> FUNCTIONS = Set.of("collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_tensor_v3",
            "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state");

    /** A pickle longer than this is not a state dict's (a 70B model's is a few MB). */
    static final int MAX_PICKLE = 256 << 20;
    private static final int MAX_DIMS = 64;

    private final ByteBuffer in;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private long op;

    private TorchPickle(byte[] pickle) {
        this.in = ByteBuffer.wrap(pickle).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Reads the one object the pickle holds. */
    static Object load(byte[] pickle) throws Refused {
        return new TorchPickle(pickle).run();
    }

    private Object run() throws Refused {
        try {
            while (true) {
                op = in.position();
                int code = in.get() & 0xFF;
                switch (code) {
                    case 0x80 -> { // PROTO
                        int proto = in.get() & 0xFF;
                        if (proto < 2 || proto > 5) {
                            throw refuse("pickle protocol " + proto + "; torch.save writes 2 (up to 5 are read)");
                        }
                    }
                    case 0x95 -> in.getLong(); // FRAME: a hint only
                    case '.' -> { // STOP
                        if (stack.size() != 1 || !marks.isEmpty()) {
                            throw refuse("the pickle ends with " + stack.size() + " objects on its stack, expected 1");
                        }
                        return stack.getFirst();
                    }
                    case '}' -> push(new LinkedHashMap<Object, Object>());
                    case ']' -> push(new ArrayList<Object>());
                    case ')' -> push(new Tuple(List.of()));
                    case '(' -> marks.add(stack.size());
                    case 't' -> push(new Tuple(popMark()));
                    case 0x85 -> push(new Tuple(pop(1)));
                    case 0x86 -> push(new Tuple(pop(2)));
                    case 0x87 -> push(new Tuple(pop(3)));
                    case 'q' -> memo.put((long) (in.get() & 0xFF), top());
                    case 'r' -> memo.put(in.getInt() & 0xFFFFFFFFL, top());
                    case 0x94 -> memo.put((long) memo.size(), top());
                    case 'h' -> push(recall(in.get() & 0xFF));
                    case 'j' -> push(recall(in.getInt() & 0xFFFFFFFFL));
                    case 'X' -> push(utf8(length(in.getInt() & 0xFFFFFFFFL)));
                    case 0x8c -> push(utf8(in.get() & 0xFF));
                    case 0x8d -> push(utf8(length(in.getLong())));
                    case 'c' -> push(global(line(), line()));
                    case 0x93 -> { // STACK_GLOBAL
                        List<Object> mn = pop(2);
                        if (!(mn.get(0) instanceof String m) || !(mn.get(1) instanceof String n)) {
                            throw refuse("STACK_GLOBAL of something other than two strings");
                        }
                        push(global(m, n));
                    }
                    case 'Q' -> push(persistent(popOne()));
                    case 'R' -> {
                        List<Object> fa = pop(2);
                        push(reduce(fa.get(0), fa.get(1)));
                    }
                    case 'J' -> push((long) in.getInt());
                    case 'K' -> push((long) (in.get() & 0xFF));
                    case 'M' -> push((long) (in.getShort() & 0xFFFF));
                    case 0x8a -> push(long1(in.get() & 0xFF));
                    case 'G' -> push(in.order(ByteOrder.BIG_ENDIAN).getDouble());
                    case 0x88 -> push(Boolean.TRUE);
                    case 0x89 -> push(Boolean.FALSE);
                    case 'N' -> push(None.NONE);
                    case 's' -> {
                        List<Object> kv = pop(2);
                        dict(top()).put(key(kv.get(0)), kv.get(1));
                    }
                    case 'u' -> {
                        List<Object> kvs = popMark();
                        if (kvs.size() % 2 != 0) {
                            throw refuse("SETITEMS with an odd number of items");
                        }
                        Map<Object, Object> d = dict(top());
                        for (int i = 0; i < kvs.size(); i += 2) {
                            d.put(key(kvs.get(i)), kvs.get(i + 1));
                        }
                    }
                    case 'a' -> list(top(1)).add(popOne());
                    case 'e' -> {
                        List<Object> items = popMark();
                        list(top()).addAll(items);
                    }
                    case 'b' -> build(popOne(), top());
                    default -> throw refuse(String.format("opcode 0x%02x, which torch.save's state dicts do not use", code));
                }
                in.order(ByteOrder.LITTLE_ENDIAN);
            }
        } catch (java.nio.BufferUnderflowException e) {
            throw new Refused(in.limit(), "the pickle ends in the middle of an opcode (truncated)");
        }
    }

    private Refused refuse(String message) {
        return new Refused(op, message);
    }

    private void push(Object o) {
        stack.add(o);
    }

    private Object top() throws Refused {
        return top(0);
    }

    /** The object {@code below} places under the top, without popping. */
    private Object top(int below) throws Refused {
        int floor = marks.isEmpty() ? 0 : marks.getLast();
        if (stack.size() - 1 - below < floor) {
            throw refuse("the stack holds too few objects for this opcode");
        }
        return stack.get(stack.size() - 1 - below);
    }

    private Object popOne() throws Refused {
        return pop(1).getFirst();
    }

    private List<Object> pop(int n) throws Refused {
        int floor = marks.isEmpty() ? 0 : marks.getLast();
        if (stack.size() - n < floor) {
            throw refuse("the stack holds too few objects for this opcode");
        }
        List<Object> top = new ArrayList<>(stack.subList(stack.size() - n, stack.size()));
        stack.subList(stack.size() - n, stack.size()).clear();
        return top;
    }

    private List<Object> popMark() throws Refused {
        if (marks.isEmpty()) {
            throw refuse("no MARK to pop to");
        }
        int at = marks.removeLast();
        List<Object> items = new ArrayList<>(stack.subList(at, stack.size()));
        stack.subList(at, stack.size()).clear();
        return items;
    }

    private Object recall(long index) throws Refused {
        Object o = memo.get(index);
        if (o == null) {
            throw refuse("memo slot " + index + " was never stored");
        }
        return o;
    }

    private int length(long n) throws Refused {
        if (n < 0 || n > in.remaining()) {
            throw refuse("a string of " + n + " bytes, past the end of the pickle");
        }
        return (int) n;
    }

    private String utf8(int n) throws Refused {
        byte[] b = new byte[length(n)];
        in.get(b);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw refuse("a string that is not UTF-8");
        }
    }

    private String line() throws Refused {
        int start = in.position();
        while (in.hasRemaining()) {
            if (in.get() == '\n') {
                byte[] b = new byte[in.position() - start - 1];
                in.get(start, b);
                return new String(b, StandardCharsets.US_ASCII);
            }
        }
        throw refuse("a GLOBAL name with no end of line");
    }

    private Object long1(int n) throws Refused {
        if (n > 8) {
            throw refuse("an integer of " + n + " bytes; state dicts hold 64-bit ones");
        }
        byte[] b = new byte[length(n)];
        in.get(b);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = (v << 8) | (b[i] & 0xFF);
        }
        if (n > 0 && n < 8 && b[n - 1] < 0) {
            v -= 1L << (8 * n); // two's complement of n bytes
        }
        return v;
    }

    private Global global(String module, String name) throws Refused {
        Global g = new Global(module, name);
        boolean storage = module.equals("torch") && (STORAGES.containsKey(name) || V3_DTYPES.containsKey(name));
        if (!storage && !FUNCTIONS.contains(g.qualified())) {
            throw refuse("names " + g.qualified() + ", which is not one of the storages and functions of a state dict"
                    + " (refusing to run it)");
        }
        return g;
    }

    private Object persistent(Object pid) throws Refused {
        if (!(pid instanceof Tuple(List<Object> t)) || t.size() != 5 || !"storage".equals(t.get(0))
                || !(t.get(1) instanceof Global g) || !(t.get(2) instanceof String key) || !(t.get(3) instanceof String location)
                || !(t.get(4) instanceof Long numel) || numel < 0) {
            throw refuse("a persistent id other than ('storage', <storage class>, key, location, numel): " + pid);
        }
        Storage kind = STORAGES.get(g.name());
        if (kind == null || !g.module().equals("torch")) {
            // a dtype where a storage class belongs
            throw refuse("a storage of class " + g.qualified() + ", which daxload has no dtype for");
        }
        return new Storage(kind.dtype(), kind.elementSize(), key, location, numel, kind.untyped());
    }

    private Object reduce(Object callable, Object args) throws Refused {
        if (!(callable instanceof Global g)) {
            throw refuse("REDUCE of something that is not a global: " + callable);
        }
        if (!(args instanceof Tuple(List<Object> a))) {
            throw refuse("REDUCE with arguments that are not a tuple");
        }
        return switch (g.qualified()) {
            case "collections.OrderedDict" -> {
                if (!a.isEmpty()) {
                    throw refuse("OrderedDict built from arguments; torch.save writes an empty one and SETITEMS");
                }
                yield new LinkedHashMap<Object, Object>();
            }
            case "torch._utils._rebuild_tensor_v2" -> tensor(a, false);
            case "torch._utils._rebuild_tensor_v3" -> tensor(a, true);
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                if (a.size() < 3 || !(a.get(0) instanceof Tensor t)) {
                    throw refuse(g.qualified() + " of something that is not a tensor");
                }
                yield t;
            }
            default -> throw refuse("calls " + g.qualified() + ", which is a storage class, not a function");
        };
    }

    private Tensor tensor(List<Object> a, boolean v3) throws Refused {
        String call = v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2";
        int fixed = v3 ? 7 : 6;
        if (a.size() < fixed || a.size() > fixed + 1 || !(a.get(0) instanceof Storage s) || !(a.get(1) instanceof Long offset)
                || !(a.get(2) instanceof Tuple(List<Object> size)) || !(a.get(3) instanceof Tuple(List<Object> stride))) {
            throw refuse(call + " with arguments other than (storage, offset, size, stride, requires_grad, hooks"
                    + (v3 ? ", dtype" : "") + "[, metadata])");
        }
        String dtype = s.dtype();
        int elementSize = s.elementSize();
        if (v3) {
            if (!(a.get(6) instanceof Global g) || !V3_DTYPES.containsKey(g.name()) || !s.untyped()) {
                throw refuse(call + " of a dtype daxload has no name for, or over a typed storage: " + a.get(6));
            }
            dtype = V3_DTYPES.get(g.name()).dtype();
            elementSize = V3_DTYPES.get(g.name()).elementSize();
        } else if (s.untyped()) {
            throw refuse(call + " over an untyped storage: its dtype is not known");
        }
        if (size.size() != stride.size() || size.size() > MAX_DIMS) {
            throw refuse("a tensor with " + size.size() + " sizes and " + stride.size() + " strides");
        }
        if (offset < 0) {
            throw refuse("a tensor at storage offset " + offset);
        }
        return new Tensor(s, dtype, elementSize, offset, longs(size, "size"), longs(stride, "stride"));
    }

    private long[] longs(List<Object> items, String what) throws Refused {
        long[] out = new long[items.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(items.get(i) instanceof Long v) || v < 0) {
                throw refuse("a tensor " + what + " that is not a non-negative integer: " + items.get(i));
            }
            out[i] = v;
        }
        return out;
    }

    private void build(Object state, Object target) throws Refused {
        // torch.save's OrderedDicts carry their _metadata (module versions) as state; nothing else may.
        if (!(target instanceof Map<?, ?>) || !(state instanceof Map<?, ?>)) {
            throw refuse("BUILD of a " + target.getClass().getSimpleName() + "; only a state dict's own metadata is read");
        }
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o) throws Refused {
        if (!(o instanceof Map<?, ?> m)) {
            throw refuse("SETITEM on something that is not a dict");
        }
        return (Map<Object, Object>) m;
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o) throws Refused {
        if (!(o instanceof ArrayList<?> l)) {
            throw refuse("APPEND on something that is not a list");
        }
        return (List<Object>) l;
    }

    private Object key(Object k) throws Refused {
        if (k instanceof Map<?, ?> || k instanceof List<?>) {
            throw refuse("a dict key that is not hashable");
        }
        return k;
    }
}
