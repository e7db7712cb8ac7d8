// == imports ==
import ExecuTorch
// == runner ==
    /// An ExecuTorch `Module` running the program's `forward` method.
    private final class Runner {
        private let module: Module

        init(modelPath: String, numThreads: Int) throws {
            _ = numThreads  // ExecuTorch sizes its own thread pool
            module = Module(filePath: modelPath)
            try module.load("forward")
        }

        func run(_ inputs: [@@CLASS@@Tensor]) throws -> [@@CLASS@@Tensor] {
            var values: [ValueConvertible] = []
            for (i, tensor) in inputs.enumerated() {
                let shape = @@CLASS@@.inputShapes[i]
                switch tensor {
                case .float(let v): values.append(Tensor<Float>(v, shape: shape))
                case .int8(let v): values.append(Tensor<Int8>(v, shape: shape))
                case .uint8(let v): values.append(Tensor<UInt8>(v, shape: shape))
                }
            }
            let outputs = try module.forward(values)
            var results: [@@CLASS@@Tensor] = []
            for (i, dtype) in @@CLASS@@.outputDtypes.enumerated() {
                switch dtype {
                case "int8":
                    guard let t: Tensor<Int8> = outputs[i].tensor() else { throw @@CLASS@@Error.runtime("output \(i)") }
                    results.append(.int8(t.scalars()))
                case "uint8":
                    guard let t: Tensor<UInt8> = outputs[i].tensor() else { throw @@CLASS@@Error.runtime("output \(i)") }
                    results.append(.uint8(t.scalars()))
                default:
                    guard let t: Tensor<Float> = outputs[i].tensor() else { throw @@CLASS@@Error.runtime("output \(i)") }
                    results.append(.float(t.scalars()))
                }
            }
            return results
        }
    }
