#!/usr/bin/env python3
"""Usage: bench/frozen_host.py BIN FREEZE_SECONDS ROUND   (root: it uses the cgroup-v1 freezer)

Frozen host: daemon + fence guard + real Flink JobManager (Flink HA on) frozen together in a
cgroup-v1 freezer past the daemon's session; the old JobManager's Flink latch is deleted during
the freeze (what the new leader does); then thaw and measure thaw -> JobManager death, and read
ZooKeeper's transaction log for writes of the JobManager's Flink session after the thaw."""
import json, os, re, shutil, signal, subprocess, sys, time, glob
import socket
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]
W = os.environ.get("FROZEN_HOST_WORK", "/tmp/fhs-frozen-host"); FLINK = os.environ["FLINK_HOME"]; BIN = sys.argv[1]; FREEZE = float(sys.argv[2]); RND = sys.argv[3]
ZKP, REST, RPC = free_port(), free_port(), free_port()
ZKCP = "/usr/share/java/zookeeper.jar:/etc/zookeeper/conf"
shutil.rmtree(W, ignore_errors=True); os.makedirs(W + "/zk/data"); os.makedirs(W + "/base"); os.makedirs(W + "/log")
open(W + "/zk/zoo.cfg", "w").write(f"tickTime=2000\ndataDir={W}/zk/data\nclientPort={ZKP}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\ninitLimit=5\nsyncLimit=2\n")
zk = subprocess.Popen(["java", "-cp", ZKCP, "org.apache.zookeeper.server.quorum.QuorumPeerMain", W + "/zk/zoo.cfg"], stdout=open(W + "/zk/out", "w"), stderr=subprocess.STDOUT, start_new_session=True)
for f in glob.glob(FLINK + "/conf/*"):
    shutil.copy(f, W + "/base/")
base = open(FLINK + "/conf/config.yaml").read()
base = re.sub(r"(?ms)^(jobmanager|rest):.*?(?=^\S)", "", base)
base += f"\njobmanager.bind-host: 127.0.0.1\njobmanager.memory.process.size: 768m\nrest.bind-address: 127.0.0.1\n"
open(W + "/base/config.yaml", "w").write(base)
open(W + "/daemon.toml", "w").write(f"""[node]
id = "a"
[zookeeper]
quorum = "127.0.0.1:{ZKP}"
session_timeout = "10s"
[election]
path = "/frozen/leader"
[jobmanager]
command = ["{FLINK}/bin/jobmanager.sh", "start-foreground"]
ready_url = "http://127.0.0.1:{REST}/overview"
rpc_address = "127.0.0.1:{RPC}"
start_timeout = "60s"
[jobmanager.env]
FLINK_LOG_DIR = "{W}/log"
[http]
listen = ""
[flink]
enabled = true
storage_dir = "file://{W}/ha"
base_config = "{W}/base/config.yaml"
conf_dir = "{W}/conf"
""")
def zkcli(*args):
    return subprocess.run(["java", "-cp", ZKCP, "org.apache.zookeeper.ZooKeeperMain", "-server", f"127.0.0.1:{ZKP}", *args], capture_output=True, text=True, timeout=60).stdout
time.sleep(2)
d = subprocess.Popen([BIN, "run", "--config", W + "/daemon.toml"], stdout=open(W + "/daemon.out", "w"), stderr=subprocess.STDOUT, start_new_session=True)
def events(name):
    return [json.loads(l) for l in open(W + "/daemon.out") if l.startswith("{") and f'"{name}"' in l]
t0 = time.time()
while not events("jobmanager_ready"):
    if time.time() - t0 > 120: sys.exit("no jobmanager_ready")
    time.sleep(0.2)
jm = events("jobmanager_spawned")[-1]["pid"]
# Flink's leadership: its latch node under /flink/default/leader/latch
latch = None
for _ in range(100):
    out = zkcli("ls", "/flink/default/leader/latch")
    m = re.findall(r"\[([^\]]*)\]", out)
    if m and m[-1].strip():
        latch = m[-1].split(",")[0].strip(); break
    time.sleep(0.3)
owner = re.search(r"ephemeralOwner = (0x[0-9a-f]+)", zkcli("stat", f"/flink/default/leader/latch/{latch}")).group(1)
def ppid(p):
    try: return int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError): return None
def descendants(root):
    found = {root}; grew = True
    while grew:
        grew = False
        for e in os.listdir("/proc"):
            if e.isdigit() and int(e) not in found and ppid(int(e)) in found:
                found.add(int(e)); grew = True
    return found
procs = sorted(descendants(d.pid))
cg = "/sys/fs/cgroup/freezer/fhs-frozen-host"
os.makedirs(cg, exist_ok=True)
for p in procs:
    try: open(cg + "/cgroup.procs", "w").write(str(p))
    except OSError: pass
threads = open(cg + "/tasks").read().split()
open(cg + "/freezer.state", "w").write("FROZEN")
frozen_at = time.time()
while open(cg + "/freezer.state").read().strip() != "FROZEN": time.sleep(0.01)
# the new leader's step: delete the dead JobManager's latch (after the daemon's session expired)
time.sleep(12)
gone = "frozen" not in zkcli("ls", "/frozen")  # the election node of the frozen daemon
zkcli("delete", f"/flink/default/leader/latch/{latch}")
while time.time() - frozen_at < FREEZE: time.sleep(0.05)
thaw_wall = time.time(); thaw = time.monotonic()
open(cg + "/freezer.state", "w").write("THAWED")
dead = None
while time.monotonic() - thaw < 30:
    try:
        st = open(f"/proc/{jm}/stat").read().rsplit(")", 1)[1].split()[0]
        if st == "Z": dead = time.monotonic(); break
    except FileNotFoundError:
        dead = time.monotonic(); break
    time.sleep(0.0005)
time.sleep(3)
d.send_signal(signal.SIGTERM); d.wait(timeout=30)
# ZooKeeper's transaction log: writes of the old JobManager's Flink session after the thaw
logs = sorted(glob.glob(W + "/zk/data/version-2/log.*"))
txns = subprocess.run(["java", "-cp", ZKCP, "org.apache.zookeeper.server.persistence.TxnLogToolkit", logs[-1]], capture_output=True).stdout.decode("latin-1")
import datetime
ours = []
for line in txns.splitlines():
    m = re.match(r"(\d+/\d+/\d+, \d+:\d+:\d+ [AP]M) UTC session (0x[0-9a-f]+) cxid \S+ zxid \S+ (\S+)", line)
    if m and m.group(2) == owner:
        at = datetime.datetime.strptime(m.group(1), "%m/%d/%y, %I:%M:%S %p").replace(tzinfo=datetime.timezone.utc).timestamp()
        ours.append((at, m.group(3)))
after = [op for at, op in ours if at >= int(thaw_wall)]
last_before = max((at for at, _ in ours if at < int(thaw_wall)), default=None)
zk.send_signal(signal.SIGKILL)
print(json.dumps({"round": RND, "freeze_s": FREEZE, "processes_frozen": len(procs), "threads_frozen": len(threads), "daemon_node_gone_before_thaw": gone,
                  "thaw_to_jm_death_ms": round((dead - thaw) * 1000, 1) if dead else None, "flink_session": owner,
                  "flink_session_txns_total": len(ours), "flink_session_txns_at_or_after_thaw_second": after,
                  "last_flink_txn_before_thaw_s": round(thaw_wall - last_before, 1) if last_before else None}))
for p in open(cg + "/tasks").read().split():
    try: os.kill(int(p), signal.SIGKILL)
    except OSError: pass
