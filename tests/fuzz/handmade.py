#!/usr/bin/env python3
# handmade.py - the hand-made edge cases of the fuzz corpora
# (tests/fuzz/corpus/NAME/hand-*). The files are checked in; this is how
# they were made (python3 is needed only to make them again). The seeds
# from a real guest come from seeds.c (make fuzz-seeds).
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus"


def put(name, file, data):
    os.makedirs(os.path.join(out, name), exist_ok=True)
    with open(os.path.join(out, name, "hand-" + file), "wb") as f:
        f.write(data)


def pkt(body, cs=None):
    if isinstance(body, str):
        body = body.encode()
    s = sum(body) & 0xff if cs is None else cs
    return b"$" + body + b"#" + b"%02x" % s


# ---- gdbc: what a stub sends to fz_gdbc_script() ----
xml_top = b'<target><xi:include href="core.xml"/></target>'
xml_core = (b'<feature><reg name="rip" bitsize="64" regnum="0"/>'
            b'<reg name="rsp" bitsize="64"/><reg name="eflags" bitsize="32"/>'
            b'<reg name="cr3" bitsize="64"/></feature>')
regs = b"11" * 8 + b"22" * 8 + b"33" * 4 + b"44" * 8


def stub(ack, xml_pieces, mem=b"00" * 300, extra=b""):
    a = b"+" if ack else b""
    s = a + pkt("PacketSize=1000;qXfer:features:read+;QStartNoAckMode+")
    s += a + pkt("OK")                          # QStartNoAckMode
    s += pkt("m01,02") + pkt("l")                # threads
    for p in xml_pieces:
        s += pkt(p)
    s += pkt("OK")                              # Qqemu.PhyMemMode
    s += pkt("OK") + pkt(regs)                  # Hg01, g
    s += pkt("OK") + pkt(regs)                  # Hg02, g
    s += extra + pkt(mem)                       # m1000,12c
    s += pkt("OK")                              # M1000,10
    s += pkt("T02thread:01;")                   # stop after c
    s += pkt("OK")                              # D
    return s


put("gdbc", "noack", stub(False, [b"l" + xml_top, b"l" + xml_core]))
put("gdbc", "ack-pieces", stub(True, [b"m" + xml_top[:20], b"l" + xml_top[20:],
                                      b"m" + xml_core[:50], b"l" + xml_core[50:]]))
put("gdbc", "rle-escape", stub(False, [b"l" + xml_top, b"l" + xml_core],
                               mem=b"0" + b"0*" + bytes([29 + 97]) * 6 + b"0" * 17,
                               extra=pkt("T05thread:01;") + pkt("S05")))
put("gdbc", "bad-checksum", b"+" + pkt("PacketSize=1000;qXfer:features:read+", 0) + b"-" * 8)
put("gdbc", "include-loop", stub(False, [b"l" + xml_top, b"l" + xml_top]))
put("gdbc", "escaped-reply", b"+" + pkt(b"PacketSize=1000;qXfer:features:read+;}\x03}\x04") + b"+" + pkt("OK"))

# ---- gdbsrv: what a client sends ----
cmds = ["qSupported:xmlRegisters=i386", "QStartNoAckMode", "qfThreadInfo", "qsThreadInfo",
        "qXfer:features:read:target.xml:0,ffb", "qXfer:features:read:target.xml:7f0,ffb",
        "Qqemu.PhyMemMode:1", "Hg1", "g", "Hg0", "Hg-1", "Hg99", "m1000,12c", "M1000,4:deadbeef",
        "m0,7f8", "mffff,2", "m,", "M1000,2:zz", "?", "qGuestpatch.memfd", "Hc-1", "vMustReplyEmpty"]
put("gdbsrv", "session-ack", b"".join(b"+" + pkt(c) for c in cmds[:2]) +
    b"".join(pkt(c) for c in cmds[2:]) + b"\x03" + pkt("c") + b"\x03" + pkt("D"))
put("gdbsrv", "bad-checksums", pkt("qSupported", 0) + pkt("g", 1) + b"$g#zz" + pkt("m0,10"))
put("gdbsrv", "escapes-rle", pkt(b"M0,3:}\x03}\x04}]") + pkt(b"m0,1*\x22") + pkt(b"X}"))
put("gdbsrv", "too-long", pkt("m" + "0" * 9000) + pkt(b"M0,1:00\x00") + pkt("m0,4"))
put("gdbsrv", "noise", b"+-+\x03garbage$$$#" + pkt("?") + b"$unterminated")

# ---- vmcoreinfo ----
good = (b"OSRELEASE=6.1.0-test\nBUILD-ID=0123456789abcdef0123456789abcdef01234567\n"
        b"PAGESIZE=4096\nKERNELOFFSET=36600000\nNUMBER(phys_base)=-805306368\n"
        b"NUMBER(pgtable_l5_enabled)=1\nSYMBOL(_stext)=ffffffffb7600000\n"
        b"SYMBOL(init_top_pgt)=ffffffffb9a0a000\nSYMBOL(init_uts_ns)=ffffffffb9c1a0e0\n"
        b"SYMBOL(kallsyms_names)=ffffffffb8a00000\nSYMBOL(bad)=xyz\n"
        b"NUMBER(big)=123456789012345678901234\n")
put("vmcoreinfo", "good", good)
put("vmcoreinfo", "no-newline", b"OSRELEASE=6.1\nKERNELOFFSET=1")
put("vmcoreinfo", "dup-keys", b"OSRELEASE=a\nOSRELEASE=b\nSYMBOL(x)=\nSYMBOL(x)=-1\nNUMBER(n)=-\n=\n")
put("vmcoreinfo", "binary", b"OSRELEASE=6.1\n\x01\x02\xff")

# ---- kallsyms: a System.map and a tiny table ----
put("kallsyms", "system-map", b"ffffffff81000000 T _text\nffffffff81000000 T startup_64\n"
    b"0000000000000000 A fixed_percpu_data\nffffffff81234560 t cmdline_proc_show\n"
    b"ffffffff81234560 t cmdline_proc_show\nffffffff82000000 D init_task\nbad line\n")
tt = b"".join(bytes([c, 0]) for c in range(256))
ti = [2 * c for c in range(256)]
syms = [b"T_text", b"tcmdline_proc_show", b"tcmdline_proc_show", b"Dinit_task",
        b"t" + b"x" * 200]
names = b""
for s in syms:
    n = len(s)
    names += (bytes([n]) if n < 128 else bytes([(n & 0x7f) | 0x80, n >> 7])) + s
offs = [0x0, 0x234560, 0x234570, 0x1000000, -5]
for percpu in (0, 1):
    hdr = struct.pack("<IIII Q", len(syms), len(names), len(tt), percpu, 0xffffffff81000000)
    hdr += struct.pack("<256H", *ti)
    put("kallsyms", "tiny-%d" % percpu, hdr + names + tt + struct.pack("<%di" % len(offs), *offs))

# ---- orc: three entries ----
base, text = 0xffffffff83000000, 0xffffffff81000000
n = 3
hdr = struct.pack("<QQQQQII", base, text, text + 0x1000, 0, 0, n, 0)
rel = b"".join(struct.pack("<i", (text + 0x10 * i) - (base + 4 * i)) for i in range(n))
ent = b"".join(struct.pack("<hhBB", 8, 0, 5, 0) for i in range(n))
put("orc", "three", hdr + rel + ent)
rel_unsorted = rel[4:8] + rel[0:4] + rel[8:]
put("orc", "unsorted", hdr + rel_unsorted + ent)

# ---- tasks: init_task alone, its list empty ----
D = 0xffff888000000000
init = D + 0x400000
th = struct.pack("<Q", init)
offs = dict(tasks=48, thread_node=80, signal=96, thread_head=16, pid=68, tgid=72, comm=104,
            state=24, exit_state=64, flags=40, on_cpu=44, cpu=16, stack=32, thread_sp=136,
            ti_flags=0, patch_state=120, rq_idle=16, rq_curr=8, current_task=0,
            runqueues=0x100, comm_len=16)
h = struct.pack("<Q", init)
for k in ["tasks", "thread_node", "signal", "thread_head", "pid", "tgid", "comm", "state",
          "exit_state", "flags", "on_cpu", "cpu", "stack", "thread_sp", "ti_flags",
          "patch_state", "rq_idle", "rq_curr", "current_task", "runqueues", "comm_len"]:
    h += struct.pack("<Q", offs[k])
h += struct.pack("<IIQ4Q", 1, 1, 1, D + 0x500000, 0, 0, 0)


def chunk(va, data):
    return struct.pack("<QI", va, len(data)) + data


task = bytearray(512)
struct.pack_into("<QQ", task, 48, init + 48, init + 48)
task[104:113] = b"swapper/0"
mem = chunk(init, bytes(task)) + chunk(D + 0x500000, struct.pack("<Q", init))
mem += chunk(D + 0x500100 + 16, struct.pack("<Q", init))
put("tasks", "init-only", h + mem)


# ---- klog: a printk ring buffer as 6.1 lays it out (tests/unit/test_klog.c) ----
def klog_seed(cbits, sbits, texts):
    prb, rb, descs, infos, data = (0xffffffff82000000, 0xffffffff82001000,
                                   0xffffffff82010000, 0xffffffff82020000,
                                   0xffffffff82040000)
    vmci = ("OSRELEASE=6.1.0-fuzz\nSYMBOL(prb)=%x\nSIZE(printk_ringbuffer)=88\n"
            "OFFSET(printk_ringbuffer.desc_ring)=0\nOFFSET(printk_ringbuffer.text_data_ring)=48\n"
            "OFFSET(prb_desc_ring.count_bits)=0\nOFFSET(prb_desc_ring.descs)=8\n"
            "OFFSET(prb_desc_ring.infos)=16\nOFFSET(prb_desc_ring.head_id)=24\n"
            "OFFSET(prb_desc_ring.tail_id)=32\nSIZE(prb_desc)=24\nOFFSET(prb_desc.state_var)=0\n"
            "OFFSET(prb_desc.text_blk_lpos)=8\nOFFSET(prb_data_blk_lpos.begin)=0\n"
            "OFFSET(prb_data_blk_lpos.next)=8\nSIZE(printk_info)=88\nOFFSET(printk_info.seq)=0\n"
            "OFFSET(printk_info.ts_nsec)=8\nOFFSET(printk_info.text_len)=16\n"
            "OFFSET(printk_info.caller_id)=20\nSIZE(prb_data_ring)=32\n"
            "OFFSET(prb_data_ring.size_bits)=0\nOFFSET(prb_data_ring.data)=8\n"
            "OFFSET(prb_data_ring.head_lpos)=16\nOFFSET(prb_data_ring.tail_lpos)=24\n"
            % prb).encode()
    count, dsize = 1 << cbits, 1 << sbits
    m64 = (1 << 64) - 1
    idm = m64 >> 2
    dsc, inf, dat = bytearray(24 * count), bytearray(88 * count), bytearray(dsize)
    lpos = (-dsize) & m64
    for seq, t in enumerate(texts):
        t = t.encode()
        blk = (8 + len(t) + 7) & ~7
        begin, nxt = lpos, (lpos + blk) & m64
        at = begin & (dsize - 1)
        if (begin >> sbits) != (nxt >> sbits):
            nxt = ((nxt & ~(dsize - 1)) + blk) & m64
            at = 0
        ident = (seq - count) & idm
        dat[at:at + 8] = struct.pack("<Q", ident)
        dat[at + 8:at + 8 + len(t)] = t
        s = seq % count
        dsc[24 * s:24 * s + 24] = struct.pack("<QQQ", (2 << 62) | ident, begin, nxt)
        inf[88 * s:88 * s + 20] = struct.pack("<QQHBB", seq, 1000 * seq, len(t), 0, 6)
        lpos = nxt
    ringb = struct.pack("<IIQQQQQ", cbits, 0, descs, infos, ((len(texts) - 1 - count) & idm),
                        (-count) & idm, 0)
    ringb += struct.pack("<IIQQQQ", sbits, 0, data, lpos, (-dsize) & m64, 0)
    mem = (chunk(prb, struct.pack("<Q", rb)) + chunk(rb, ringb) + chunk(descs, bytes(dsc)) +
           chunk(infos, bytes(inf)) + chunk(data, bytes(dat)))
    return struct.pack("<QII", 1, len(vmci), 0) + vmci + mem


put("klog", "small", klog_seed(3, 8, ["Linux version 6.1.0-fuzz", "two", "three\nlines", ""]))
put("klog", "full", klog_seed(3, 9, ["record %d" % i for i in range(8)]))
# the sixth block wraps to the ring's start over the first (lost: its id)
put("klog", "wrapped", klog_seed(3, 7, ["r%d-0123456789ab" % i for i in range(6)]))
