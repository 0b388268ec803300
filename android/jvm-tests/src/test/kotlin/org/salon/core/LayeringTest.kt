package org.salon.core

import java.io.File
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals

/** Keeps salon-core buildable on the plain JVM, and the generated types behind the wrapper. */
class LayeringTest {
    private val root = File(System.getProperty("salon.repo.root") ?: "../..").canonicalFile
    private val library = File(root, "android/salon-core/src/main/kotlin")

    private fun sources(dir: File) = dir.walkTopDown().filter { it.isFile && it.extension == "kt" }.toList()

    @Test
    fun `the library has no Android-only code`() {
        val offenders = sources(library).filter { f -> f.readLines().any { it.startsWith("import android") } }
        assertEquals(emptyList(), offenders.map { it.name })
    }

    @Test
    fun `only the mapping and the Rust implementation see generated types`() {
        val wrapper = sources(File(library, "org/salon/core")).filter { it.parentFile.name == "core" }
        val offenders =
            wrapper.filter { f -> f.readLines().any { it.startsWith("import org.salon.core.ffi") } }.map { it.name }.sorted()
        assertEquals(listOf("FfiMapping.kt", "RustSalonService.kt"), offenders)

        val app = File(root, "android/app/src")
        val appOffenders = sources(app).filter { f -> f.readLines().any { it.startsWith("import org.salon.core.ffi") } }
        assertEquals(emptyList(), appOffenders.map { it.name })
    }
}
