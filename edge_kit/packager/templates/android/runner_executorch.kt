// == imports ==
import java.io.File
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor
// == runner ==
    /** ExecuTorch `Module` (it loads from a file: the asset is copied to filesDir once). */
    private class Runner(context: Context, @Suppress("UNUSED_PARAMETER") numThreads: Int) : Closeable {
        private val module: Module = Module.load(cachedModelFile(context, MODEL_ASSET, MODEL_SHA256).absolutePath)

        fun run(inputs: List<Any>): List<Any> {
            val values = inputs.mapIndexed { i, x ->
                val tensor = when (x) {
                    is FloatArray -> Tensor.fromBlob(x, INPUT_SHAPES[i])
                    is ByteArray -> if (INPUT_DTYPES[i] == "uint8") Tensor.fromBlobUnsigned(x, INPUT_SHAPES[i])
                                    else Tensor.fromBlob(x, INPUT_SHAPES[i])
                    else -> throw IllegalArgumentException("unsupported input ${x::class.java}")
                }
                EValue.from(tensor)
            }
            val outputs = module.forward(*values.toTypedArray())
            return OUTPUT_SHAPES.indices.map { i ->
                val tensor = outputs[i].toTensor()
                when (OUTPUT_DTYPES[i]) {
                    "float32" -> tensor.dataAsFloatArray
                    "uint8" -> tensor.dataAsUnsignedByteArray
                    else -> tensor.dataAsByteArray
                }
            }
        }

        override fun close() = module.destroy()
    }
// == helpers ==
/** The asset copied to filesDir under a name that changes with its content. */
internal fun cachedModelFile(context: Context, asset: String, sha256: String): File {
    val file = File(context.filesDir, "edgekit-${sha256.take(12)}-$asset")
    if (!file.isFile) {
        val tmp = File(context.filesDir, "${file.name}.tmp")
        context.assets.open(asset).use { input -> tmp.outputStream().use { input.copyTo(it) } }
        check(tmp.renameTo(file)) { "cannot write ${file.path}" }
    }
    return file
}
