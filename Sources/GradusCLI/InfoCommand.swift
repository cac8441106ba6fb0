import ArgumentParser
import CBLAS
import Gradus

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Versions, BLAS, topology and the thread plan (thread → cpu → node).")

    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let plan = Runtime.plan
        let core = String(cString: openblas_get_corename())
        let config = String(cString: openblas_get_config())
        if json {
            print(JSON.object([
                "version": .string(GradusVersion.string), "abi_version": .number(Double(GradusVersion.abi)),
                "blas": .object(["library": .string("OpenBLAS"), "core": .string(core), "config": .string(config),
                                 "threads": .number(Double(Runtime.blasThreads))]),
                "plan": plan.json,
            ]).serialized)
            return
        }
        print("Gradus \(GradusVersion.string) (C ABI \(GradusVersion.abi))")
        print("BLAS: OpenBLAS \(config), core \(core), \(Runtime.blasThreads) thread(s)")
        print(plan.description)
    }
}
