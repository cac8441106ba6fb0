import ArgumentParser
import Gradus

@main
struct GradusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradus",
        abstract: "Gradus: CPU training with recent optimizers, low-bit training and guided diffusion.",
        version: "0.2.0",
        subcommands: [TrainCommand.self, InfoCommand.self, BenchCommand.self, ConformanceCommand.self, ReproCommand.self, DiffusionCommand.self]
    )
}

/// Turns a library error into a clean CLI failure (message, non-zero exit) instead of a trap.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ e: GradusError) { description = e.message }  // ArgumentParser prints "Error: " before it
    init(_ s: String) { description = s }
}

func cli<R>(_ body: () throws(GradusError) -> R) throws -> R {
    do { return try body() } catch { throw CLIError(error) }
}
