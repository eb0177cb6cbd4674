import Foundation
import TestSupport
import Testing

/// A deployment of one unmodified Python program (standard library only) as marbles of a simulated enclave that
/// trusts the Python interpreter and the program, with a user allowed to read the shared secret.
struct PythonDeployment {
    static let program = #"""
        import hashlib, os, sys
        # The shared secret arrives twice: in the environment and in a config file templated by the Coordinator.
        from_environment = bytes.fromhex(os.environ["APP_SECRET"])
        with open(os.environ["APP_CONFIG"]) as config:
            settings = dict(line.strip().split("=", 1) for line in config if "=" in line)
        from_file = bytes.fromhex(settings["secret"])
        if from_environment != from_file:
            sys.exit("the environment and the config file disagree")
        with open(sys.argv[1], "w") as marker:
            marker.write("ran\n")
        print("digest=" + hashlib.sha256(from_environment).hexdigest())
        print("unique=" + os.environ["UNIQUE_SECRET"])
        """#

    static var pythonInstalled: Bool { HostProgram.installed("python3") }

    let directory: TestDirectory
    let coordinator: Coordinator
    let user: UserFiles
    let enclave: SimulatedEnclave
    let python: String
    let programPath: String

    /// `copyInterpreter` measures and runs a private copy of the interpreter, for tests that modify the binary.
    init(label: String, copyInterpreter: Bool = false) throws {
        directory = try TestDirectory(label)
        let installed = try #require(HostProgram.path("python3"))
        if copyInterpreter {
            python = directory.file("python-copy")
            try FileManager.default.copyItem(atPath: installed, toPath: python)
        } else {
            python = installed
        }
        programPath = directory.file("app.py")
        try Self.program.write(toFile: programPath, atomically: true, encoding: .utf8)
        coordinator = try Coordinator(directory: directory)
        user = try UserFiles(name: "auditor", directory: directory.path)
        enclave = try SimulatedEnclave(directory: directory, name: "python", trustedFiles: [python, programPath])
        try coordinator.setManifest(manifest(package: try enclave.package()))
    }

    func manifest(package: [String: Any]) -> [String: Any] {
        let parameters: [String: Any] = [
            "Env": [
                "APP_SECRET": "{{ hex .Secrets.appKey }}", "APP_CONFIG": directory.file("provisioned/app.conf"),
                "UNIQUE_SECRET": "{{ hex .Secrets.marbleKey }}",
            ],
            "Files": [directory.file("provisioned/app.conf"): "# written by the Coordinator\nsecret={{ hex .Secrets.appKey }}\n"],
        ]
        return [
            "Packages": ["python": package],
            "Marbles": [
                "app": ["Package": "python", "Parameters": parameters],
                "once": ["Package": "python", "MaxActivations": 1, "Parameters": parameters],
            ],
            "Secrets": [
                "appKey": ["Type": "symmetric-key", "Size": 256, "Shared": true],
                "marbleKey": ["Type": "symmetric-key", "Size": 128],
            ],
            "Users": ["auditor": ["Certificate": user.certificatePEM, "Roles": ["secretReader"]]],
            "Roles": ["secretReader": ["ResourceType": "Secrets", "ResourceNames": ["appKey"], "Actions": ["ReadSecret"]]],
        ]
    }

    func launch(type: String = "app", uuidFile: String = "uuid") -> MarbleLaunch {
        MarbleLaunch(coordinator: coordinator, enclave: enclave, type: type, uuidFile: directory.file(uuidFile))
    }

    /// The program's command line, with the marker file it creates when (and only when) it runs.
    func command(marker: String) -> [String] {
        [python, programPath, directory.file(marker)]
    }

    func ran(_ marker: String) -> Bool { FileManager.default.fileExists(atPath: directory.file(marker)) }

    /// The value after `key=` on the program's output.
    static func value(_ key: String, in output: String) -> String? {
        output.split(separator: "\n").first { $0.hasPrefix("\(key)=") }.map { String($0.dropFirst(key.count + 1)) }
    }
}

@Suite(.serialized, .enabled(if: PythonDeployment.pythonInstalled, "python3 is not installed; run scripts/setup"))
struct PythonMarbleTests {
    @Test func pythonReadsTheSecretFromItsEnvironmentAndTemplatedConfigAsTheUserSeesIt() throws {
        let deployment = try PythonDeployment(label: "python")
        let outcome = try deployment.launch().run(deployment.command(marker: "ran"))
        #expect(outcome.exitCode == 0, "\(outcome.standardError)")
        #expect(deployment.ran("ran"))
        let digest = try #require(PythonDeployment.value("digest", in: outcome.standardOutput), "\(outcome.standardOutput)")
        let secret = try deployment.coordinator.secret("appKey", as: deployment.user)
        #expect(secret.count == 32)
        #expect(digest == sha256Hex(secret), "the program saw the secret the authorized user fetched")
        let config = deployment.directory.file("provisioned/app.conf")
        #expect(try FileManager.default.attributesOfItem(atPath: config)[.posixPermissions] as? Int == 0o600)
    }

    @Test func aUserWithoutTheRoleCannotReadTheSecret() throws {
        let deployment = try PythonDeployment(label: "python-stranger")
        let stranger = try UserFiles(name: "stranger", directory: deployment.directory.path)
        #expect(throws: HarnessFailure.self) { try deployment.coordinator.secret("appKey", as: stranger) }
    }
}
