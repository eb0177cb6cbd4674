import Foundation
import Testing

@testable import Launcher

#if canImport(Glibc)
    import Glibc
#endif

/// Links planted by the host on the way to a `Files` target are refused by name, and nothing is written through them.
@Suite struct ConfinedFileWriterTests {
    let writer = ConfinedFileWriter()

    func refusal(_ body: () throws -> Void) throws -> LauncherError {
        try #require(throws: LauncherError.self) { try body() }
    }

    @Test func aSymlinkedDirectoryOnTheWayIsRefusedAndNothingLandsBehindIt() throws {
        let work = try TemporaryDirectory()
        let decoy = work.file("host-directory")
        try FileManager.default.createDirectory(atPath: decoy, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: work.file("keys"), withDestinationPath: decoy)
        for attempt in [{ try writer.write(Array("secret".utf8), to: work.file("keys/key.txt")) }, { try writer.check(work.file("keys/key.txt")) }] {
            let error = try refusal(attempt)
            #expect(error.subject == work.file("keys"))
            #expect(error.found == "a symbolic link to '\(decoy)'")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: decoy).isEmpty)
    }

    @Test func aLinkAtTheTargetIsRefusedAndTheDecoyIsUnchanged() throws {
        let work = try TemporaryDirectory()
        let decoy = work.file("decoy")
        try Data("decoy\n".utf8).write(to: URL(fileURLWithPath: decoy))
        try FileManager.default.createSymbolicLink(atPath: work.file("symbolic"), withDestinationPath: decoy)
        #expect(link(decoy, work.file("hard")) == 0)
        let symbolic = try refusal { try writer.write(Array("secret".utf8), to: work.file("symbolic")) }
        #expect(symbolic.found.hasPrefix("a symbolic link"))
        let hard = try refusal { try writer.write(Array("secret".utf8), to: work.file("hard")) }
        #expect(hard.found.contains("2 names"))
        #expect(try refusal { try writer.check(work.file("hard")) }.found.contains("hard link"))
        #expect(try String(contentsOfFile: decoy, encoding: .utf8) == "decoy\n")
    }

    @Test func anExistingFileIsReplacedByANewInode() throws {
        let work = try TemporaryDirectory()
        let target = work.file("config")
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        let before = try #require(FileManager.default.attributesOfItem(atPath: target)[.systemFileNumber] as? Int)
        try writer.write(Array("new".utf8), to: target)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "new")
        #expect(try FileManager.default.attributesOfItem(atPath: target)[.systemFileNumber] as? Int != before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path) == ["config"], "no temporary file is left")
    }

    @Test func climbingRelativeAndNonDirectoryPathsAreRefused() throws {
        let work = try TemporaryDirectory()
        _ = FileManager.default.createFile(atPath: work.file("plain"), contents: Data())
        #expect(try refusal { try writer.check(work.path + "/a/../../etc/x") }.found == "a '..' component")
        #expect(try refusal { try writer.check("relative/x") }.found == "a relative path")
        let below = try refusal { try writer.check(work.file("plain/below")) }
        #expect(below.subject == work.file("plain") && below.found == "a regular file")
        let directory = try refusal { try writer.write([1], to: work.path) }
        #expect(directory.found == "a directory")
    }

    @Test func missingDirectoriesAreCreatedPrivate() throws {
        let work = try TemporaryDirectory()
        try writer.check(work.file("a/b/c.txt"))
        #expect(try FileManager.default.attributesOfItem(atPath: work.file("a/b"))[.posixPermissions] as? Int == 0o700)
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.file("a/b")).isEmpty, "the writability probe is removed")
    }

    @Test(.enabled(if: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/bin")) == "usr/bin", "/bin is not a merged-/usr link here"))
    func theMergedUsrLinksOfTheRootAreFollowed() throws {
        try writer.check("/bin/cloister-confined-writer-probe-\(UUID().uuidString)")
    }
}
