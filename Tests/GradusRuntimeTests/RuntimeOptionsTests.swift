import Testing
import GradusRuntime

func options(_ env: [String: String]) throws(GradusError) -> RuntimeOptions {
    try RuntimeOptions.fromEnvironment { env[$0] }
}

@Suite struct RuntimeOptionsTests {
    @Test func defaultsWhenUnset() throws {
        let o = try options([:])
        #expect(o == RuntimeOptions())
        #expect(o.threadCount == nil && o.numa == .auto && o.pin == .auto && o.wait == .auto)
        #expect(o.spinMicroseconds == 50 && o.blasThreads == nil && !o.isVerbose && o.localRanks == 1)
    }

    @Test func parsesEveryVariable() throws {
        let o = try options([
            "GRADUS_NUM_THREADS": "3", "GRADUS_NUMA": "distribute", "GRADUS_CPUS": "0-1,4",
            "GRADUS_PIN": "1", "GRADUS_WAIT": "spin", "GRADUS_SPIN_US": "200", "GRADUS_BLAS_THREADS": "2",
            "GRADUS_VERBOSE_AFFINITY": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2",
            "GRADUS_SYSFS_ROOT": "/tmp/x", "GRADUS_NUMA_FAKE": "0:0-3;1:4-7", "GRADUS_FAKE_ALLOWED": "4-5",
        ])
        #expect(o.threadCount == 3 && o.numa == .distribute && o.cpus == [0, 1, 4])
        #expect(o.pin == .always && o.wait == .spin && o.spinMicroseconds == 200 && o.blasThreads == 2)
        #expect(o.isVerbose && o.localRanks == 2 && o.sysfsRoot == "/tmp/x")
        #expect(o.fakeTopology == "0:0-3;1:4-7" && o.fakeAllowedCPUs == [4, 5])
    }

    @Test func aliasesAndAuto() throws {
        #expect(try options(["GRADUS_NUMA": "numactl"]).numa == .inherit)
        #expect(try options(["GRADUS_NUMA": " Isolate\n"]).numa == .isolate)
        #expect(try options(["GRADUS_NUM_THREADS": "auto"]).threadCount == nil)
        #expect(try options(["GRADUS_NUM_THREADS": "0"]).threadCount == nil)
        #expect(try options(["GRADUS_NUM_THREADS": ""]).threadCount == nil)
        #expect(try options(["GRADUS_PIN": "0"]).pin == .never)
        #expect(try options(["GRADUS_PIN": "auto"]).pin == .auto)
        #expect(try options(["GRADUS_BLAS_THREADS": "auto"]).blasThreads == nil)
        #expect(try options(["MPI_LOCALNRANKS": "4"]).localRanks == 4)
        #expect(try options(["OMPI_COMM_WORLD_LOCAL_SIZE": "junk"]).localRanks == 1)
    }

    @Test(arguments: [
        ("GRADUS_NUM_THREADS", "-2"), ("GRADUS_NUM_THREADS", "many"), ("GRADUS_NUM_THREADS", "100000"),
        ("GRADUS_NUMA", "mirror"), ("GRADUS_CPUS", "0-"), ("GRADUS_CPUS", ","), ("GRADUS_PIN", "2"),
        ("GRADUS_WAIT", "busy"), ("GRADUS_SPIN_US", "-5"), ("GRADUS_SPIN_US", "99999999"),
        ("GRADUS_BLAS_THREADS", "x"), ("GRADUS_VERBOSE_AFFINITY", "maybe"), ("GRADUS_NUMA_FAKE", "0:a"),
        ("GRADUS_FAKE_ALLOWED", "z"),
    ])
    func rejectsBadValues(_ name: String, _ value: String) {
        do {
            _ = try options([name: value])
            Issue.record("\(name)=\(value) accepted")
        } catch {
            #expect(error.message.contains(name) || error.message.contains(value))
        }
    }

    @Test func validation() {
        #expect(throws: Never.self) { try RuntimeOptions().validate() }
        #expect(throws: GradusError.self) { try RuntimeOptions(threadCount: 5000).validate() }
        #expect(throws: GradusError.self) { try RuntimeOptions(cpus: [-1]).validate() }
        #expect(throws: GradusError.self) { try RuntimeOptions(spinMicroseconds: 2_000_000).validate() }
    }
}
