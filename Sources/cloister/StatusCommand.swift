import ArgumentParser
import CoordinatorAPI
import CoordinatorClient

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Verify the Coordinator, then print its state.",
        discussion: """
            States: 0 uninitialized, 1 recovery mode, 2 accepting a manifest, 3 accepting marbles.
            Examples:
              cloister status --coordinator coordinator.example:4433 --policy coordinator-era.json
              cloister status --accept-simulation --simulation-state-directory ~/.cloister/machine --unique-id HEX --json
            Exit codes: 0 printed; 1 the Coordinator failed verification or refused; 2 usage error or unreachable.
            """
    )

    @OptionGroup var options: ClientOptions
    @OptionGroup var target: CoordinatorAddressArgument

    func run() async throws {
        try await options.run(address: target.address) { client throws(CoordinatorClientError) in
            let status: StatusResponse = try await client.get(ClientAPIPath.status)
            var json: [String: ClientJSON] = ["code": .int(status.code), "message": .string(status.message)]
            if let version = status.version { json["version"] = .string(version) }
            return ClientResult(text: "\(status.code): \(status.message)", json: json)
        }
    }
}
