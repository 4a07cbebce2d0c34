/*
 * The gate of a parked JobManager (flink-ha-supervisor, `jobmanager.standby = "parked"`).
 *
 * Flink's configuration of a parked JobManager names this class as `high-availability.type`.
 * Flink's ClusterEntrypoint calls createHAServices after its RPC service is up and before anything
 * that others can see: the ZooKeeper session, the BlobServer, the REST endpoint, the Dispatcher
 * and its jobs all come after it. So a JVM blocked here has done most of its start (class
 * loading, configuration, the RPC system) and holds no ZooKeeper session, no REST port, no job.
 *
 * The protocol with the fence guard, which spawned this JVM with two inherited pipe ends:
 *   FLINK_HA_GATE_READY_FD  the fd this class writes "parked\n" to once it is at the gate.
 *                           The JVM keeps its inherited copy of that fd open (Java cannot close
 *                           a raw fd number), so the reader stops at the newline, not at EOF.
 *   FLINK_HA_GATE_FD        the fd this class reads. One byte = release: delegate to Flink's own
 *                           ZooKeeper HA services. EOF (the guard, and so the daemon, is gone) or
 *                           a read error = Runtime.halt(1) at once: a parked JVM never releases
 *                           itself and never outlives its guard while parked.
 *   FLINK_HA_GATE_PRELOAD   optional: a class list (one binary name a line, as the JVM's
 *                           -XX:DumpLoadedClassList writes it) that a daemon thread loads while
 *                           the JVM waits, without initializing anything (Class.forName(name,
 *                           false, loader): no static initializer of Flink runs, nothing connects).
 *                           The classes Flink loads after the release are then there already.
 *                           A missing or unreadable list, or names that do not load, are logged
 *                           and skipped; the preload stops at the release.
 * Missing or invalid variables make createHAServices throw, and the JobManager fails to start:
 * this class never proceeds without the gate. A stop while parked (SIGTERM) halts at once with 143.
 *
 * After the release the class is out of the way: the HA services are exactly those of
 * `high-availability.type: zookeeper`, made from a copy of the configuration with that type.
 *
 * Keep it one small class that needs nothing but Flink's lib/ (scripts/build-gate compiles it
 * with javac against $FLINK_HOME/lib/*). It runs inside the JobManager, on its main thread.
 */
package flinkha.gate;

import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.HighAvailabilityOptions;
import org.apache.flink.core.security.FlinkSecurityManager;
import org.apache.flink.runtime.highavailability.ClientHighAvailabilityServices;
import org.apache.flink.runtime.highavailability.HighAvailabilityServices;
import org.apache.flink.runtime.highavailability.HighAvailabilityServicesFactory;
import org.apache.flink.runtime.highavailability.HighAvailabilityServicesUtils;
import org.apache.flink.runtime.rpc.FatalErrorHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A HighAvailabilityServicesFactory that waits for the fence guard's release, then is Flink's ZooKeeper HA. */
public final class GatedHaServicesFactory implements HighAvailabilityServicesFactory {
    /** The fd number this class reads the release byte from (the guard holds the write end). */
    public static final String GATE_FD_VAR = "FLINK_HA_GATE_FD";
    /** The fd number this class writes "parked\n" to when it reached the gate. */
    public static final String READY_FD_VAR = "FLINK_HA_GATE_READY_FD";
    /** The path of the class list to preload while parked (optional). */
    public static final String PRELOAD_VAR = "FLINK_HA_GATE_PRELOAD";

    private static final Logger LOG = LoggerFactory.getLogger(GatedHaServicesFactory.class);

    /** The exit code of a JVM stopped (SIGTERM, or any exit) while parked: 128 + SIGTERM. */
    private static final int STOPPED_WHILE_PARKED_EXIT_CODE = 143;

    /** ClusterEntrypoint.RUNTIME_FAILURE_RETURN_CODE: what Flink itself exits with on a fatal error. */
    private static final int FATAL_EXIT_CODE = 2;

    @Override
    public HighAvailabilityServices createHAServices(Configuration configuration, Executor executor) throws Exception {
        int gateFd = fdFromEnv(GATE_FD_VAR);
        int readyFd = fdFromEnv(READY_FD_VAR);
        if (gateFd == readyFd) {
            throw new IllegalStateException(GATE_FD_VAR + " and " + READY_FD_VAR + " are both " + gateFd
                    + "; the fence guard passes two different pipe ends");
        }
        // Open both before saying "parked": "parked" means the release can be read.
        // /proc/self/fd/N opens the same pipe the inherited fd N refers to.
        InputStream gate = new FileInputStream(pipe(GATE_FD_VAR, gateFd));
        try (OutputStream ready = new FileOutputStream(pipe(READY_FD_VAR, readyFd))) {
            ready.write("parked\n".getBytes(StandardCharsets.US_ASCII));
        }
        LOG.info("Parked at the gate ({}={}): waiting for the fence guard's release; no ZooKeeper session, no REST endpoint yet.",
                GATE_FD_VAR, gateFd);
        // A stop (SIGTERM) while parked: Flink's own shutdown hook would wait for the lock this
        // (main) thread holds while it starts the cluster, until Flink's shutdown safeguard halts
        // the JVM 5 s later. A parked JVM has nothing to clean up: halt at once instead.
        AtomicBoolean released = new AtomicBoolean(false);
        Thread stopWhileParked = new Thread(() -> {
            if (!released.get()) {
                Runtime.getRuntime().halt(STOPPED_WHILE_PARKED_EXIT_CODE);
            }
        }, "flink-ha-gate-stop");
        Runtime.getRuntime().addShutdownHook(stopWhileParked);
        startPreload(System.getenv(PRELOAD_VAR), released);

        int release;
        try {
            release = gate.read();
        } catch (IOException e) {
            release = -1; // whatever went wrong, the release cannot come any more
        }
        if (release < 0) {
            // EOF: the fence guard closed the gate or is gone. Leave at once, without a word: a
            // log line or stderr could block on a full pipe, and the guard knows why it closed.
            // Runtime.halt, not System.exit: no shutdown hook may run (or hang) first.
            Runtime.getRuntime().halt(1);
        }
        released.set(true);
        try {
            Runtime.getRuntime().removeShutdownHook(stopWhileParked);
        } catch (IllegalStateException shutdownUnderWay) {
            // The JVM is stopping anyway; the hook saw the release and lets Flink shut down.
        }
        gate.close();
        LOG.info("Released by the fence guard: starting Flink's ZooKeeper HA services.");
        return HighAvailabilityServicesUtils.createAvailableOrEmbeddedServices(
                asZooKeeper(configuration), executor, GatedHaServicesFactory::fatalError);
    }

    /**
     * Clients (the CLI, the REST client) serve nothing and must not wait for a gate: they get
     * Flink's ZooKeeper client services directly. (The interface's default would call
     * createHAServices and block.)
     */
    @Override
    public ClientHighAvailabilityServices createClientHAServices(Configuration configuration) throws Exception {
        return HighAvailabilityServicesUtils.createClientHAService(
                asZooKeeper(configuration), GatedHaServicesFactory::fatalError);
    }

    /**
     * Loads the classes the list at `path` names on a daemon thread, without initializing them,
     * until the list ends or `released` turns true. Nothing when `path` is unset or empty.
     */
    private static void startPreload(String path, AtomicBoolean released) {
        if (path == null || path.isEmpty()) {
            return;
        }
        ClassLoader loader = GatedHaServicesFactory.class.getClassLoader();
        Thread preload = new Thread(() -> preload(Paths.get(path), loader, released), "flink-ha-gate-preload");
        preload.setDaemon(true);
        preload.setPriority(Thread.MIN_PRIORITY);
        preload.start();
    }

    private static void preload(Path list, ClassLoader loader, AtomicBoolean released) {
        long started = System.nanoTime();
        int loaded = 0;
        int skipped = 0;
        String firstSkipped = null;
        try (BufferedReader lines = Files.newBufferedReader(list, StandardCharsets.UTF_8)) {
            String line;
            while ((line = lines.readLine()) != null && !released.get()) {
                String name = className(line);
                if (name == null) {
                    continue;
                }
                try {
                    Class.forName(name, false, loader);
                    loaded++;
                } catch (ClassNotFoundException | LinkageError e) {
                    skipped++;
                    if (firstSkipped == null) {
                        firstSkipped = name;
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("Cannot read the class list {} ({}): {}; the JobManager starts without the preload (make-cds-archive writes the list beside the archive).",
                    list, PRELOAD_VAR, e.toString());
            return;
        }
        LOG.info("Preloaded {} classes of {} in {} ms while parked ({} did not load{}{}).", loaded, list,
                (System.nanoTime() - started) / 1_000_000, skipped, firstSkipped == null ? "" : ", the first " + firstSkipped,
                released.get() ? "; stopped at the release" : "");
    }

    /**
     * The binary name in one line of a -XX:DumpLoadedClassList list ("a/b/C id: 7 ..." or
     * "a/b/C"), or null for comments, the JVM's own entries ("@lambda-proxy ...") and hidden
     * classes, which cannot be loaded by name.
     */
    static String className(String line) {
        String trimmed = line.trim();
        if (trimmed.isEmpty() || trimmed.startsWith("#") || trimmed.startsWith("@")) {
            return null;
        }
        int end = trimmed.indexOf(' ');
        String name = end < 0 ? trimmed : trimmed.substring(0, end);
        if (name.contains("$$Lambda") || name.contains("+0x") || name.startsWith("[")) {
            return null;
        }
        return name.replace('/', '.');
    }

    /** A copy of the configuration whose high-availability.type is Flink's own "zookeeper". */
    private static Configuration asZooKeeper(Configuration configuration) {
        Configuration copy = new Configuration(configuration);
        copy.set(HighAvailabilityOptions.HA_MODE, "zookeeper");
        return copy;
    }

    /** The fatal error handler Flink's ClusterEntrypoint would have passed: log, then exit like it. */
    private static void fatalError(Throwable error) {
        LOG.error("Fatal error in the ZooKeeper HA services of a gated JobManager.", error);
        FlinkSecurityManager.forceProcessExit(FATAL_EXIT_CODE);
    }

    private static int fdFromEnv(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException(name + " is not set: this JobManager's configuration says high-availability.type: "
                    + GatedHaServicesFactory.class.getName()
                    + ", which only the fence guard of flink-ha-supervisor can start (it passes the gate's pipes)");
        }
        int fd;
        try {
            fd = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalStateException(name + "=" + value + " is not a file descriptor number");
        }
        if (fd < 3) {
            throw new IllegalStateException(name + "=" + value + " is not an inherited pipe (0, 1 and 2 are stdin, stdout, stderr)");
        }
        return fd;
    }

    /** /proc/self/fd/N, once it is known to be an open pipe (not a file, not a closed fd). */
    private static String pipe(String name, int fd) throws IOException {
        Path link = Paths.get("/proc/self/fd/" + fd);
        String target;
        try {
            target = Files.readSymbolicLink(link).toString();
        } catch (IOException e) {
            throw new IllegalStateException(name + "=" + fd + " is not an open file descriptor of this JVM: " + e);
        }
        if (!target.startsWith("pipe:")) {
            throw new IllegalStateException(name + "=" + fd + " is " + target + ", not a pipe");
        }
        return link.toString();
    }
}
