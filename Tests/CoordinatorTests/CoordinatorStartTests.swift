import Coordinator
import Testing

@Suite struct CoordinatorStartTests {
    @Test func freshCoordinatorAcceptsAManifest() async throws {
        let fixture = try CoordinatorFixture()
        let coordinator = try await fixture.start()
        let status = coordinator.status()
        #expect(status.state == .acceptingManifest)
        #expect(status.code == 2)
        #expect(status.isSimulation)
        #expect(status.message.contains("SIMULATION"))
    }
}
