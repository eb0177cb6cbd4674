import ArgumentParser
import CoordinatorAPI
import CoordinatorClient
import Foundation

struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the CLI's version and, when a Coordinator is configured, the verified Coordinator's.",
        discussion: """
            The Coordinator is asked only when its address is configured (--coordinator, CLOISTER_COORDINATOR or the \
            config file); it is verified first, like for every other command, and its version read from its status.
            Examples:
              cloister version
              cloister version --coordinator coordinator.example:4433 --policy coordinator-era.json --json
            Exit codes: 0 printed; 1 the Coordinator failed verification or refused; 2 usage error or unreachable (the \
            CLI's version is printed in every case).
            """
    )

    @OptionGroup var options: ClientOptions
    @OptionGroup var target: CoordinatorAddressArgument

    static let api = "MarbleRun client API v2"

    func run() async throws {
        let line = "cloister \(CloisterVersion.current) (\(Self.api))"
        let own: [String: ClientJSON] = ["version": .string(CloisterVersion.current), "api": .string(Self.api)]
        var notices: [CoordinatorRootCache.Notice] = []
        let client: CoordinatorClient
        let status: StatusResponse
        do {
            let settings = try options.settings(address: target.address)
            guard settings.addressConfigured else {
                try ClientOutput.emit(ClientResult(text: line, json: own), json: options.json, coordinator: nil)
                return
            }
            (client, notices) = try await options.connection.connect(settings, quiet: options.json)
            do {
                status = try await client.get(ClientAPIPath.status)
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        } catch let error as CoordinatorClientError {
            if !options.json { print(line) }
            let note = CoordinatorClientError(
                error.kind, "the Coordinator's version is unknown: \(error.message)", found: error.found, expected: error.expected,
                hint: error.hint, explanation: error.explanation)
            try ClientOutput.fail(note, json: options.json, notices: notices, extra: own)
        }
        var coordinatorVersion = status.version ?? "unknown (the Coordinator does not report its version; a MarbleRun Coordinator?)"
        if client.identity.explanation == nil {
            coordinatorVersion += " (NOT verified: --insecure)"
        } else if client.identity.isSimulation {
            coordinatorVersion += " (SIMULATION)"
        }
        var json = own
        json["coordinatorVersion"] = status.version.map(ClientJSON.string) ?? .null
        try ClientOutput.emit(
            ClientResult(text: line + "\nCoordinator at \(client.address): \(coordinatorVersion)", json: json),
            json: options.json, coordinator: client, notices: notices)
    }
}
