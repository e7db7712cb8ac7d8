// == imports ==
import ai.onnxruntime.OnnxJavaType
import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import java.nio.ByteBuffer
import java.nio.FloatBuffer
// == runner ==
    /** ONNX Runtime session over the model asset's bytes (CPU execution provider). */
    private class Runner(context: Context, numThreads: Int) : Closeable {
        private val env = OrtEnvironment.getEnvironment()
        private val session: OrtSession

        init {
            val bytes = context.assets.open(MODEL_ASSET).use { it.readBytes() }
            val options = OrtSession.SessionOptions()
            options.setIntraOpNumThreads(numThreads)
            session = env.createSession(bytes, options)
        }

        fun run(inputs: List<Any>): List<Any> {
            val tensors = inputs.mapIndexed { i, x ->
                when (x) {
                    is FloatArray -> OnnxTensor.createTensor(env, FloatBuffer.wrap(x), INPUT_SHAPES[i])
                    is ByteArray -> OnnxTensor.createTensor(env, ByteBuffer.wrap(x), INPUT_SHAPES[i],
                        if (INPUT_DTYPES[i] == "uint8") OnnxJavaType.UINT8 else OnnxJavaType.INT8)
                    else -> throw IllegalArgumentException("unsupported input ${x::class.java}")
                }
            }
            try {
                val feeds = INPUT_NAMES.indices.associate { INPUT_NAMES[it] to tensors[it] }
                return session.run(feeds).use { result ->
                    OUTPUT_NAMES.mapIndexed { i, name ->
                        val tensor = result.get(name).get() as OnnxTensor
                        if (OUTPUT_DTYPES[i] == "float32") {
                            val buffer = tensor.floatBuffer
                            FloatArray(buffer.remaining()).also { buffer.get(it) }
                        } else {
                            val buffer = tensor.byteBuffer
                            ByteArray(buffer.remaining()).also { buffer.get(it) }
                        }
                    }
                }
            } finally {
                tensors.forEach { it.close() }
            }
        }

        override fun close() = session.close()
    }
// == helpers ==
