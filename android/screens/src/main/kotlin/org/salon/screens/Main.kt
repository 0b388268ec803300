package org.salon.screens

import java.awt.image.BufferedImage
import java.io.ByteArrayInputStream
import java.io.File
import javax.imageio.ImageIO
import kotlin.system.exitProcess
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext

/**
 * Renders every screen of the Android app ([shots]) to PNG and compares each, pixel for pixel,
 * with its reference image in `android/screens/reference/`. Each screen is rendered twice, and
 * the two renders must be byte-identical (else the check itself is not deterministic).
 *
 * Arguments: `--screens <android/screens>` `--out <dir for new renders and diffs>`
 * [`--update`: write the renders as the new references and regenerate README.md]
 * [`--only <name,...>`].
 */
fun main(args: Array<String>) {
    val options = args.toList()
    fun value(flag: String) = options.indexOf(flag).takeIf { it >= 0 }?.let { options.getOrNull(it + 1) }
    val screensDir = File(value("--screens") ?: "android/screens")
    val out = File(value("--out") ?: "target/screens").apply { mkdirs() }
    val update = "--update" in options
    val only = value("--only")?.split(',')?.toSet()
    val referenceDir = File(screensDir, "reference").apply { mkdirs() }
    val chosen = shots.filter { only == null || it.name in only }

    var passed = 0
    val failures = mutableListOf<String>()
    runBlocking {
        for (shot in chosen) {
            val started = System.nanoTime()
            val content =
                try {
                    shot.prepare()
                } catch (e: Exception) {
                    failures += "${shot.name}: could not prepare the state: $e"
                    println("FAIL ${shot.name}: $e")
                    continue
                }
            val (first, second) = withContext(Dispatchers.Main) { renderPng(content) to renderPng(content) }
            val ms = (System.nanoTime() - started) / 1_000_000
            val newFile = File(out, "${shot.name}.png")
            val diffFile = File(out, "${shot.name}.diff.png")
            newFile.writeBytes(first)
            diffFile.delete()
            if (!first.contentEquals(second)) {
                failures += "${shot.name}: two renders differ (the rendering is not deterministic)"
                println("FAIL ${shot.name}: two renders differ (${ms} ms)")
                continue
            }
            val reference = File(referenceDir, "${shot.name}.png")
            if (update) {
                if (!reference.isFile || !reference.readBytes().contentEquals(first)) {
                    reference.writeBytes(first)
                    println("updated ${shot.name} (${ms} ms)")
                } else {
                    println("same    ${shot.name} (${ms} ms)")
                }
                passed++
                continue
            }
            if (!reference.isFile) {
                failures += "${shot.name}: no reference image ${reference.path}"
                println("FAIL ${shot.name}: no reference image (${ms} ms)")
                continue
            }
            val difference = compare(reference.readBytes(), first, diffFile)
            if (difference == null) {
                println("ok      ${shot.name} (${ms} ms)")
                passed++
            } else {
                failures += "${shot.name}: $difference; new render ${newFile.path}, differences in red ${diffFile.path}"
                println("FAIL ${shot.name}: $difference (${ms} ms)")
            }
        }
    }
    if (update && only == null) {
        writeGallery(screensDir)
        // References of screens that no longer exist.
        val names = shots.map { "${it.name}.png" }.toSet()
        referenceDir.listFiles { f -> f.name.endsWith(".png") && f.name !in names }?.forEach {
            it.delete()
            println("removed ${it.name}")
        }
    }
    println()
    if (failures.isNotEmpty()) {
        println("These screens differ from their reference images in ${referenceDir.path}:")
        failures.forEach { println("  - $it") }
        println("If the change is intended, accept the new images with: scripts/check-android-screens.sh --update")
        println("(then look at them, and commit android/screens/reference/ and android/screens/README.md)")
    }
    println("screens: $passed passed, ${failures.size} failed")
    exitProcess(if (failures.isEmpty()) 0 else 1)
}

/**
 * Null when [reference] and [actual] (PNGs) have the same pixels, else what differs; then
 * [diffFile] shows the new render faded, with every differing pixel in red. The comparison is
 * exact: the renders are deterministic (fixed font file, fixed frame times, software Skia).
 */
fun compare(reference: ByteArray, actual: ByteArray, diffFile: File): String? {
    if (reference.contentEquals(actual)) return null
    val a = ImageIO.read(ByteArrayInputStream(reference))
    val b = ImageIO.read(ByteArrayInputStream(actual))
    val width = maxOf(a.width, b.width)
    val height = maxOf(a.height, b.height)
    val diff = BufferedImage(width, height, BufferedImage.TYPE_INT_ARGB)
    var differing = 0L
    for (y in 0 until height) {
        for (x in 0 until width) {
            val pa = if (x < a.width && y < a.height) a.getRGB(x, y) else 0
            val pb = if (x < b.width && y < b.height) b.getRGB(x, y) else 0
            if (pa != pb) {
                differing++
                diff.setRGB(x, y, 0xFFFF0000.toInt())
            } else {
                // The unchanged picture, faded to light grey.
                val grey = ((pb shr 16 and 0xff) + (pb shr 8 and 0xff) + (pb and 0xff)) / 3
                val faded = 192 + grey / 4
                diff.setRGB(x, y, (0xFF shl 24) or (faded shl 16) or (faded shl 8) or faded)
            }
        }
    }
    if (differing == 0L) return null // the same pixels, encoded differently
    ImageIO.write(diff, "png", diffFile)
    val size = if (a.width != b.width || a.height != b.height) " (size ${a.width}x${a.height} -> ${b.width}x${b.height})" else ""
    return "$differing pixels differ$size"
}

/** android/screens/README.md: every reference image with its one line. */
fun writeGallery(screensDir: File) {
    val text =
        buildString {
            appendLine("# The Android app's screens")
            appendLine()
            appendLine("Every screen of `android/app` in each state that matters, rendered on the JVM with Compose Desktop from the")
            appendLine("app's own screen and view-model sources (compiled in place, unchanged), over `FakeSalonService` / `FakeCall`")
            appendLine("with fixed data, at ${WIDTH_DP} × ${HEIGHT_DP} dp and density ${DENSITY.toInt()}, in DejaVu Sans. `scripts/check-android-screens.sh`")
            appendLine("renders them again and fails on any pixel that differs from these references; after an intended change,")
            appendLine("`scripts/check-android-screens.sh --update` rewrites the images and this page (how it works: the head of that script).")
            appendLine()
            appendLine("Compose Desktop's Material 3 is not Android's, and the font is not Roboto: these pictures show layout, text")
            appendLine("and state, not the exact Android pixels.")
            appendLine()
            for (shot in shots) {
                appendLine("## ${shot.name}")
                appendLine()
                appendLine(shot.description + ".")
                appendLine()
                appendLine("<img src=\"reference/${shot.name}.png\" width=\"360\" alt=\"${shot.name}\">")
                appendLine()
            }
        }
    File(screensDir, "README.md").writeText(text)
}
