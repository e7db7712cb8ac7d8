// == imports ==
#if canImport(OnnxRuntimeBindings)
import OnnxRuntimeBindings  // Swift Package Manager
#else
import onnxruntime_objc  // CocoaPods
#endif
// == runner ==
    /// An ONNX Runtime `ORTSession` (CPU execution provider).
    private final class Runner {
        private let env: ORTEnv
        private let session: ORTSession

        init(modelPath: String, numThreads: Int) throws {
            env = try ORTEnv(loggingLevel: ORTLoggingLevel.warning)
            let options = try ORTSessionOptions()
            try options.setIntraOpNumThreads(Int32(numThreads))
            session = try ORTSession(env: env, modelPath: modelPath, sessionOptions: options)
        }

        private static func elementType(_ dtype: String) -> ORTTensorElementDataType {
            switch dtype {
            case "int8": return .int8
            case "uint8": return .uint8
            default: return .float
            }
        }

        func run(_ inputs: [@@CLASS@@Tensor]) throws -> [@@CLASS@@Tensor] {
            var feeds: [String: ORTValue] = [:]
            for (i, tensor) in inputs.enumerated() {
                feeds[@@CLASS@@.inputNames[i]] = try ORTValue(
                    tensorData: NSMutableData(data: tensor.data),
                    elementType: Self.elementType(@@CLASS@@.inputDtypes[i]),
                    shape: @@CLASS@@.inputShapes[i].map { NSNumber(value: $0) })
            }
            let outputs = try session.run(withInputs: feeds, outputNames: Set(@@CLASS@@.outputNames), runOptions: nil)
            var results: [@@CLASS@@Tensor] = []
            for (i, name) in @@CLASS@@.outputNames.enumerated() {
                guard let value = outputs[name] else { throw @@CLASS@@Error.runtime("no output \(name)") }
                results.append(@@CLASS@@Tensor(data: try value.tensorData() as Data, dtype: @@CLASS@@.outputDtypes[i]))
            }
            return results
        }
    }
