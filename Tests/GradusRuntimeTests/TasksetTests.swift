import Foundation
import Synchronization
import Testing
import GradusRuntime

/// `taskset`, if installed.
let tasksetPath: String? = ["/usr/bin/taskset", "/bin/taskset", "/usr/local/bin/taskset"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// Runs this test binary again under `taskset -c <cpu>`, executing only `TasksetChild`, and returns
/// (exit status, output).
func runChildUnderTaskset(cpu: Int, environment extra: [String: String]) throws -> (Int32, String) {
    let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tasksetPath!)
    process.arguments = ["-c", "\(cpu)", exe, "--testing-library", "swift-testing",
                         "--filter", "TasksetChild"]
    var env = ProcessInfo.processInfo.environment
    for key in env.keys where key.hasPrefix("GRADUS_") { env[key] = nil }
    env["SWIFT_BACKTRACE"] = "enable=no"
    for (k, v) in extra { env[k] = v }
    process.environment = env
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite struct TasksetTests {
    /// An inherited mask (`taskset -c N`) is respected by the shared pool on the real kernel: the thread
    /// count follows the mask, every planned and actual CPU lies in it, and oversubscription forces sleep.
    @Test(.enabled(if: tasksetPath != nil, "taskset is not installed"))
    func inheritedMaskIsRespected() throws {
        let cpu = ThreadPool.inheritedAffinity().last!
        for threads in ["", "2", "3"] {
            var env = ["GRADUS_TASKSET_CHILD": "\(cpu)", "GRADUS_PIN": "1"]
            if !threads.isEmpty { env["GRADUS_NUM_THREADS"] = threads }
            let (status, output) = try runChildUnderTaskset(cpu: cpu, environment: env)
            #expect(status == 0, "child under taskset -c \(cpu), GRADUS_NUM_THREADS=\(threads):\n\(output)")
            #expect(output.contains("TASKSET-CHILD-OK threads=\(threads.isEmpty ? "1" : threads)"), "\(output)")
        }
    }
}

/// Runs only inside the child started by `TasksetTests` (GRADUS_TASKSET_CHILD names the one allowed CPU).
@Suite struct TasksetChild {
    @Test func childChecksItsMask() throws {
        guard let value = ProcessInfo.processInfo.environment["GRADUS_TASKSET_CHILD"], let cpu = Int(value) else { return }
        #expect(ThreadPool.inheritedAffinity() == [cpu])
        let pool = ThreadPool.shared
        let plan = pool.plan
        let expected = Int(ProcessInfo.processInfo.environment["GRADUS_NUM_THREADS"] ?? "") ?? 1
        #expect(pool.threadCount == expected)
        #expect(plan.entries.allSatisfy { $0.cpu == cpu })
        #expect(plan.isOversubscribed == (expected > 1))
        if expected > 1 { #expect(plan.wait == .sleep) }
        // Every thread, the workers pinned by GRADUS_PIN=1 included, runs inside the mask.
        let seen = Mutex<[Int: [Int]]>([:])
        pool.parallelFor(expected) { _, w in
            let mask = ThreadPool.currentThreadAffinity()
            seen.withLock { $0[w] = mask }
        }
        let masks = seen.withLock { $0 }
        #expect(masks.count == expected)
        #expect(masks.values.allSatisfy { $0 == [cpu] })
        #expect(ThreadPool.currentCPU() == cpu)
        print("TASKSET-CHILD-OK threads=\(pool.threadCount)")
    }
}
