import Foundation
import GradusRuntime
@testable import GradusData

/// Shared helpers for the GradusData tests: fixture paths, scratch directories, Python interop.
enum DataTest {
    /// This file's path (a `#filePath` default argument would take the caller's path instead).
    static let helperFile = #filePath

    /// `Tests/Fixtures/data/<name>`, located from this file.
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: helperFile).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/data/\(name)").path
    }

    /// A fresh scratch directory under the system temp folder.
    static func scratchDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gradus-data-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    static func writeBytes(_ bytes: [UInt8], to path: String) {
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    static func readBytes(_ path: String) -> [UInt8] {
        [UInt8](FileManager.default.contents(atPath: path) ?? Data())
    }

    /// Runs `python3 -c script args...`; returns (status, stdout+stderr), or nil when python3 is absent.
    static func python(_ script: String, _ args: [String] = []) -> (status: Int32, output: String)? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return nil }
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self))
    }

    /// True when python3 can import all `modules`.
    static func pythonHas(_ modules: String...) -> Bool {
        python("import " + modules.joined(separator: ", "))?.status == 0
    }

    /// The error a throwing expression produced, or nil.
    static func error<T>(_ body: () throws -> T) -> GradusError? {
        do { _ = try body(); return nil } catch let e as GradusError { return e } catch {
            return .internal("not a GradusError: \(error)")
        }
    }

    static func isFormat(_ e: GradusError?) -> Bool { if case .format = e { return true }; return false }
    static func isIO(_ e: GradusError?) -> Bool { if case .io = e { return true }; return false }
}
