package dev.daxload.image;

import dev.daxload.image.internal.DaxfsLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Test-only image builder, written from daxfs-format.md alone (it uses literal numbers, not
 * {@link DaxfsLayout}, so that tests built on it also check the constants).
 *
 * <p>Two layouts:
 * <ul>
 *   <li>{@link Style#MKDAXFS}: the way the reference C tool lays images out: entries in the order
 *       they were added (readdir order, unsorted), inodes numbered in depth-first scan order, data in
 *       inode order, dirent arrays reserved as ALIGN(count*271, 4096) (so the last entry of some big
 *       directories spills into the next slot), empty directories with data_offset 0, each symlink
 *       target + NUL in its own slot.</li>
 *   <li>{@link Style#SORTED_BFS}: entries sorted by UTF-8 bytes, inodes numbered breadth first,
 *       dirent arrays reserved as count*272 rounded up, then symlinks, then files.</li>
 * </ul>
 * Both keep whatever nlink the caller gives a node (defaulting to what stat would say), so tests can
 * also build images with wrong link counts.
 */
final class TestImageBuilder {
    enum Style { MKDAXFS, SORTED_BFS }

    abstract static sealed class Node permits Dir, File, Link {
        int perm;
        long uid;
        long gid;
        Long nlinkOverride;

        abstract int type();
    }

    static final class Dir extends Node {
        final List<Map.Entry<String, Node>> entries = new ArrayList<>();

        Dir(int perm) {
            this.perm = perm;
        }

        int type() {
            return 0040000;
        }

        Dir dir(String name, int perm) {
            Dir d = new Dir(perm);
            entries.add(Map.entry(name, d));
            return d;
        }

        File file(String name, byte[] data, int perm) {
            File f = new File(data, perm);
            entries.add(Map.entry(name, f));
            return f;
        }

        Link symlink(String name, String target) {
            Link l = new Link(target);
            entries.add(Map.entry(name, l));
            return l;
        }

        /** Another name for an existing node: a hard link. */
        <T extends Node> T add(String name, T node) {
            entries.add(Map.entry(name, node));
            return node;
        }
    }

    static final class File extends Node {
        final byte[] data;

        File(byte[] data, int perm) {
            this.data = data;
            this.perm = perm;
        }

        int type() {
            return 0100000;
        }
    }

    static final class Link extends Node {
        final byte[] target;

        Link(String target) {
            this.target = target.getBytes(StandardCharsets.UTF_8);
            this.perm = 0777;
        }

        int type() {
            return 0120000;
        }
    }

    /** What was built, with the places a fuzzer wants to aim at. */
    record Built(byte[] image, int inodeCount, long inodeTable, long base, List<Long> direntOffsets, Map<Node, Integer> inoOf) {}

    static Built build(Dir root, Style style) {
        // Number the nodes.
        List<Node> order = new ArrayList<>();
        Map<Node, Integer> ino = new IdentityHashMap<>();
        Map<Node, Integer> names = new IdentityHashMap<>();
        order.add(root);
        ino.put(root, 1);
        if (style == Style.MKDAXFS) {
            dfs(root, order, ino, names);
        } else {
            ArrayDeque<Dir> queue = new ArrayDeque<>();
            queue.add(root);
            while (!queue.isEmpty()) {
                Dir d = queue.poll();
                for (var e : entries(d, style)) {
                    Node c = e.getValue();
                    names.merge(c, 1, Integer::sum);
                    if (ino.putIfAbsent(c, order.size() + 1) == null) {
                        order.add(c);
                        if (c instanceof Dir sub) queue.add(sub);
                    }
                }
            }
        }
        int count = order.size();
        long base = 4096;
        long inodeTable = 4096; // relative to base
        long dataStart = align(inodeTable + 64L * count);

        // Place the data.
        Map<Node, Long> offset = new IdentityHashMap<>();
        long cursor = dataStart;
        if (style == Style.MKDAXFS) {
            for (Node n : order) {
                switch (n) {
                    case Dir d -> {
                        if (d.entries.isEmpty()) {
                            offset.put(d, 0L);
                        } else {
                            offset.put(d, cursor);
                            cursor += align(d.entries.size() * 271L); // the reference tool's reservation
                        }
                    }
                    case File f -> {
                        offset.put(f, cursor); // an empty file gets the cursor, which nobody reads
                        cursor += align(f.data.length);
                    }
                    case Link l -> {
                        offset.put(l, cursor);
                        cursor += align(l.target.length + 1);
                    }
                }
            }
        } else {
            for (Node n : order) {
                if (n instanceof Dir d && !d.entries.isEmpty()) {
                    offset.put(d, cursor);
                    cursor += align(d.entries.size() * 272L);
                }
            }
            for (Node n : order) {
                if (n instanceof Link l) {
                    offset.put(l, cursor);
                    cursor += align(l.target.length + 1);
                }
            }
            for (Node n : order) {
                if (n instanceof File f && f.data.length > 0) {
                    offset.put(f, cursor);
                    cursor += align(f.data.length);
                }
            }
        }
        long baseSize = cursor;
        long total = base + baseSize;
        // Room for a spilled last dirent past the end; trimmed below.
        ByteBuffer img = ByteBuffer.allocate(Math.toIntExact(total + 4096)).order(ByteOrder.LITTLE_ENDIAN);

        img.putInt(0, 0x64617835).putInt(4, 5).putInt(8, 0).putInt(12, 4096);
        img.putLong(16, total).putLong(24, base).putLong(32, baseSize);
        img.putLong(64, count + 1L);
        img.putInt(4096, 0x64646135).putInt(4100, 5).putInt(4104, 0).putInt(4108, 4096);
        img.putLong(4112, baseSize).putLong(4120, inodeTable).putInt(4128, count).putInt(4132, 1).putLong(4136, dataStart);

        List<Long> direntOffsets = new ArrayList<>();
        for (Node n : order) {
            int i = ino.get(n);
            int at = (int) (base + inodeTable + 64L * (i - 1));
            long size = switch (n) {
                case Dir d -> d.entries.size() * 271L;
                case File f -> f.data.length;
                case Link l -> l.target.length;
            };
            long nlink;
            if (n.nlinkOverride != null) {
                nlink = n.nlinkOverride;
            } else if (n instanceof Dir d) {
                nlink = 2 + d.entries.stream().filter(e -> e.getValue() instanceof Dir).count();
            } else {
                nlink = names.get(n);
            }
            img.putInt(at, i).putInt(at + 4, n.type() | n.perm).putInt(at + 8, (int) n.uid).putInt(at + 12, (int) n.gid);
            img.putLong(at + 16, size).putLong(at + 24, offset.getOrDefault(n, 0L)).putInt(at + 32, (int) nlink);
        }
        // Data in inode order, so a later slot overwrites what an earlier one spilled into it.
        for (Node n : order) {
            long off = offset.getOrDefault(n, 0L);
            switch (n) {
                case Dir d -> {
                    int k = 0;
                    for (var e : entries(d, style)) {
                        int at = (int) (base + off + 272L * k++);
                        byte[] name = e.getKey().getBytes(StandardCharsets.UTF_8);
                        img.putInt(at, ino.get(e.getValue())).putInt(at + 4, e.getValue().type() | e.getValue().perm);
                        img.putShort(at + 8, (short) name.length).put(at + 16, name);
                        direntOffsets.add((long) at);
                    }
                }
                case File f -> img.put((int) (base + off), f.data);
                case Link l -> img.put((int) (base + off), l.target).put((int) (base + off + l.target.length), (byte) 0);
            }
        }
        return new Built(Arrays.copyOf(img.array(), (int) total), count, base + inodeTable, base, direntOffsets, ino);
    }

    private static void dfs(Dir d, List<Node> order, Map<Node, Integer> ino, Map<Node, Integer> names) {
        for (var e : d.entries) {
            Node c = e.getValue();
            names.merge(c, 1, Integer::sum);
            if (ino.putIfAbsent(c, order.size() + 1) == null) {
                order.add(c);
                if (c instanceof Dir sub) dfs(sub, order, ino, names);
            }
        }
    }

    private static List<Map.Entry<String, Node>> entries(Dir d, Style style) {
        if (style == Style.MKDAXFS) return d.entries;
        List<Map.Entry<String, Node>> sorted = new ArrayList<>(d.entries);
        sorted.sort(Comparator.comparing(e -> e.getKey().getBytes(StandardCharsets.UTF_8), Arrays::compareUnsigned));
        return sorted;
    }

    static long align(long v) {
        return (v + 4095) & -4096L;
    }
}
