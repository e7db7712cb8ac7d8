// == imports ==
import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.tensorflow.lite.Interpreter
// == runner ==
    /** LiteRT `Interpreter` over the model asset (read into a direct buffer: works compressed or not). */
    private class Runner(context: Context, numThreads: Int) : Closeable {
        private val interpreter: Interpreter

        init {
            val bytes = context.assets.open(MODEL_ASSET).use { it.readBytes() }
            val model = ByteBuffer.allocateDirect(bytes.size).order(ByteOrder.nativeOrder())
            model.put(bytes)
            model.rewind()
            interpreter = Interpreter(model, Interpreter.Options().setNumThreads(numThreads))
        }

        fun run(inputs: List<Any>): List<Any> {
            val feeds = Array<Any>(inputs.size) { i -> directBuffer(inputs[i]) }
            val outs = HashMap<Int, Any>()
            for (i in OUTPUT_SHAPES.indices) {
                val bytes = numel(OUTPUT_SHAPES[i]) * (if (OUTPUT_DTYPES[i] == "float32") 4 else 1)
                outs[i] = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder())
            }
            interpreter.runForMultipleInputsOutputs(feeds, outs)
            return OUTPUT_SHAPES.indices.map { i ->
                readBuffer(outs[i] as ByteBuffer, OUTPUT_DTYPES[i], numel(OUTPUT_SHAPES[i]))
            }
        }

        override fun close() = interpreter.close()
    }
// == helpers ==
internal fun directBuffer(value: Any): ByteBuffer = when (value) {
    is FloatArray -> ByteBuffer.allocateDirect(value.size * 4).order(ByteOrder.nativeOrder()).also { buf ->
        value.forEach { buf.putFloat(it) }
        buf.rewind()
    }
    is ByteArray -> ByteBuffer.allocateDirect(value.size).order(ByteOrder.nativeOrder()).also { buf ->
        buf.put(value)
        buf.rewind()
    }
    else -> throw IllegalArgumentException("unsupported input ${value::class.java}")
}

internal fun readBuffer(buffer: ByteBuffer, dtype: String, count: Int): Any {
    buffer.rewind()
    return if (dtype == "float32") FloatArray(count) { buffer.getFloat() } else ByteArray(count).also { buffer.get(it) }
}
