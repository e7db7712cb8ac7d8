// == imports ==
import TensorFlowLite
// == runner ==
    /// The LiteRT (TensorFlow Lite) `Interpreter`.
    private final class Runner {
        private let interpreter: Interpreter

        init(modelPath: String, numThreads: Int) throws {
            var options = Interpreter.Options()
            options.threadCount = numThreads
            interpreter = try Interpreter(modelPath: modelPath, options: options)
            try interpreter.allocateTensors()
        }

        func run(_ inputs: [@@CLASS@@Tensor]) throws -> [@@CLASS@@Tensor] {
            for (i, tensor) in inputs.enumerated() {
                try interpreter.copy(tensor.data, toInputAt: i)
            }
            try interpreter.invoke()
            return try @@CLASS@@.outputDtypes.indices.map { i in
                @@CLASS@@Tensor(data: try interpreter.output(at: i).data, dtype: @@CLASS@@.outputDtypes[i])
            }
        }
    }
