import Launcher
import Testing

@Suite struct SimulatedEncryptedMountTests {
    @Test func mountsAreReadFromTheSetting() throws {
        let mounts = try SimulatedEncryptedMount.parse("/data:datakey,/srv/models:models")
        #expect(mounts.map(\.path) == ["/data", "/srv/models"])
        #expect(mounts.map(\.keyName) == ["datakey", "models"])
        #expect(try SimulatedEncryptedMount.parse("").isEmpty)
    }

    @Test(arguments: [
        ("/data", "no ':'"), ("data:key", "the path 'data'"), ("/data/:key", "the path '/data/'"), ("/:key", "the path '/'"),
        ("/data:", "the key name ''"), ("/data:a/b", "the key name 'a/b'"), ("/data:a,/data/x:b", "it overlaps /data"),
    ])
    func badSettingsAreRefusedByName(value: String, named: String) {
        let error = #expect(throws: LauncherError.self) { try SimulatedEncryptedMount.parse(value) }
        #expect(error?.description.contains(named) == true, "\(error?.description ?? "")")
        #expect(error?.description.contains(SimulatedEncryptedMount.variable) == true)
    }

    @Test func aConvertedImagesMountMustBeServedOverItsOwnDirectory() throws {
        #expect(try SimulatedEncryptedMount(path: "/data", uri: "file:/data", keyName: "k").path == "/data")
        let error = #expect(throws: LauncherError.self) { try SimulatedEncryptedMount(path: "/data", uri: "file:/elsewhere", keyName: "k") }
        #expect(error?.description.contains("file:/data") == true)
    }
}
