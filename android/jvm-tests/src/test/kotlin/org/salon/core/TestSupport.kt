package org.salon.core

import java.io.File
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import java.util.concurrent.TimeUnit
import kotlin.io.path.createTempDirectory
import kotlin.test.fail

/** Where the Rust build put libsalon_core.so and salon-server (see pom.xml). */
val nativeDir: File = File(System.getProperty("salon.native.dir") ?: "../../target/debug").canonicalFile

fun requireNativeLibrary() {
    val lib = listOf("libsalon_core.so", "libsalon_core.dylib").map { File(nativeDir, it) }
    if (lib.none { it.isFile }) {
        fail("No libsalon_core in $nativeDir: run `cargo build -p salon-core -p salon-server` at the repository root first")
    }
}

/** A fresh folder, deleted by [deleteRecursively] in the test's cleanup. */
fun tempDir(prefix: String): File = createTempDirectory(prefix).toFile()

/**
 * A real salon-server on 127.0.0.1 with an OS-chosen port, its data in a temporary folder.
 * The binary is `$SALON_SERVER_BIN`, or `salon-server` next to the native library.
 */
class ServerProcess : AutoCloseable {
    private val dataDir = tempDir("salon-server")
    private val process: Process
    val url: String

    init {
        val bin = System.getenv("SALON_SERVER_BIN")?.takeIf { it.isNotBlank() } ?: File(nativeDir, "salon-server").path
        if (!File(bin).canExecute()) {
            fail("No salon-server at $bin: run `cargo build -p salon-core -p salon-server` first or set SALON_SERVER_BIN")
        }
        val args = mutableListOf(bin, "--bind", "127.0.0.1:0", "--data-dir", dataDir.path, "--udp-port", "0")
        // Quiet unless someone asks for the server's log with RUST_LOG.
        if (System.getenv("RUST_LOG") == null) args += listOf("--log", "warn")
        process =
            ProcessBuilder(args)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start()
        url = readUrl()
    }

    /** Reads stdout until the "listening on" line; fails if the server exits or stays silent. */
    private fun readUrl(): String {
        val prefix = "salon-server listening on "
        val found = java.util.concurrent.CompletableFuture<String>()
        Thread({
            process.inputStream.bufferedReader().useLines { lines ->
                for (line in lines) {
                    if (!found.isDone && line.startsWith(prefix)) found.complete(line.removePrefix(prefix).trim())
                }
            }
            found.completeExceptionally(IllegalStateException("salon-server exited (code ${process.waitFor()}) before listening"))
        }, "salon-server-stdout").apply { isDaemon = true }.start()
        return try {
            found.get(20, TimeUnit.SECONDS)
        } catch (e: Exception) {
            close()
            throw AssertionError("salon-server did not start: ${e.message}", e)
        }
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
        dataDir.deleteRecursively()
    }
}

/** A missing room on [serverUrl]: a well-formed id the server never issued. */
fun missingRoomLink(serverUrl: String) = "$serverUrl/r/AAAAAAAAAAAAAAAAAAAAAA"


/**
 * Two phones (Alice and Bob, each with its own data folder) and a real salon-server, fresh for
 * each test and closed after it.
 */
abstract class TwoPhones {
    private val aliceDir = tempDir("salon-alice")
    private val bobDir = tempDir("salon-bob")
    protected lateinit var server: ServerProcess
    protected lateinit var alice: SalonService
    protected lateinit var bob: SalonService

    @BeforeEach
    fun start() {
        requireNativeLibrary()
        server = ServerProcess()
        alice = RustSalonService(aliceDir.path)
        bob = RustSalonService(bobDir.path)
    }

    @AfterEach
    fun stop() {
        alice.close()
        bob.close()
        server.close()
        aliceDir.deleteRecursively()
        bobDir.deleteRecursively()
    }
}
