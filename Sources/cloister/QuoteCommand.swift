import ArgumentParser
import Attestation
import CollateralSources
import Foundation

struct QuoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quote",
        abstract: "Inspect and verify Intel DCAP quotes (SGX v3, TDX v4/v5).",
        subcommands: [QuoteInspectCommand.self, QuoteVerifyCommand.self]
    )
}

struct QuoteInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print every field of a quote, named and typed.",
        discussion: """
            FILE holds the quote as raw binary or as hexadecimal text.
            Exit codes: 0 printed; 2 unusable input (missing file, not a quote, malformed quote).
            """
    )

    @Argument(help: "The quote file (raw binary or hexadecimal text).")
    var file: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let quote: Quote
        do {
            quote = try QuoteInput.parse(try QuoteInput.read(file), path: file)
        } catch {
            try QuoteInput.fail(error, json: json, file: file)
        }
        let tree = QuoteInspection.tree(of: quote, path: file)
        print(json ? tree.json() : tree.text())
    }
}

struct QuoteVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a quote against Intel-signed collateral and appraise it with a policy.",
        usage: """
            cloister quote verify FILE (--collateral FILE | --pcs URL | --pccs URL | --thim [URL]) [--at TIME] [--policy FILE] [--explain] [--json]
            """,
        discussion: """
            Collateral comes from a dcap-qvl QuoteCollateralV3 JSON file (--collateral), Intel PCS (--pcs \
            https://api.trustedservices.intel.com), a PCCS (--pccs URL; see --pccs-certificate and --pccs-insecure), \
            or Azure THIM (--thim, optionally followed by its base URL; http://169.254.169.254/metadata/THIM selects \
            the VM-local endpoint).
            Without --policy the default policy applies dcap-qvl's rules: no debug enclave or TD, TDX SEPT_VE_DISABLE \
            set, no service TD, any TCB status but Revoked.
            Exit codes: 0 accepted; 1 rejected; 2 unusable input (missing or malformed file, unreachable collateral).
            """
    )

    @Argument(help: "The quote file (raw binary or hexadecimal text).")
    var file: String

    @Argument(help: ArgumentHelp("The Azure THIM base URL, right after --thim.", visibility: .hidden))
    var thimURL: String?

    @Option(help: ArgumentHelp("Collateral file: dcap-qvl QuoteCollateralV3 JSON.", valueName: "file"))
    var collateral: String?

    @Option(help: ArgumentHelp("Intel PCS base URL, e.g. https://api.trustedservices.intel.com.", valueName: "url"))
    var pcs: String?

    @Option(name: .customLong("pcs-root-ca-crl"), help: ArgumentHelp("Where Intel PCS's root CA CRL is fetched from.", valueName: "url"))
    var pcsRootCACRL: String = IntelPCS.defaultRootCACRLURL

    @Option(help: ArgumentHelp("PCCS base URL, e.g. https://pccs.example:8081.", valueName: "url"))
    var pccs: String?

    @Option(name: .customLong("pccs-certificate"), help: ArgumentHelp("Trust only this PEM certificate for the PCCS's TLS.", valueName: "file"))
    var pccsCertificate: String?

    @Flag(name: .customLong("pccs-insecure"), help: "Accept any TLS certificate from the PCCS (collateral stays Intel-signed).")
    var pccsInsecure = false

    @Flag(help: "Fetch collateral from Azure THIM (global cache unless a URL follows).")
    var thim = false

    @Option(help: ArgumentHelp("Seconds allowed per collateral request.", valueName: "seconds"))
    var timeout: Double = 30

    @Option(help: ArgumentHelp("Verify as of this instant: ISO-8601 or Unix seconds (default: now).", valueName: "time"))
    var at: String?

    @Option(help: ArgumentHelp("Appraisal policy (JSON, see AttestationPolicy); default: dcap-qvl's rules.", valueName: "file"))
    var policy: String?

    @Flag(help: "Print every check performed, in order.")
    var explain = false

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        let input: VerificationInput
        do {
            input = try await prepare()
        } catch {
            try QuoteInput.fail(error, json: json, file: file)
        }
        let verifier = QuoteVerifier()
        let explanation = verifier.explain(
            quoteBytes: input.quote.bytes, collateral: input.collateral, at: input.instant, policy: input.policy)
        let verified = try? verifier.verify(input.quote, collateral: input.collateral, at: input.instant)
        let report = QuoteVerificationReport(
            file: file, input: input, explanation: explanation, verified: verified, includeSteps: explain)
        print(json ? report.tree.json() : report.text)
        if !explanation.accepted { throw ExitCode(1) }
    }

    struct VerificationInput {
        let quote: Quote
        let collateral: Collateral
        let collateralSource: String
        let instant: Date
        let instantGiven: Bool
        let policy: AttestationPolicy
        let policySource: String
    }

    private func prepare() async throws(UnusableInput) -> VerificationInput {
        let quote = try QuoteInput.parse(try QuoteInput.read(file), path: file)
        let instantGiven = at != nil
        let instant = try at.map { text throws(UnusableInput) in try QuoteInput.instant(text) } ?? Date()
        let (policy, policySource) = try loadPolicy()
        let (collateral, source) = try await fetchCollateral(for: quote)
        return VerificationInput(
            quote: quote, collateral: collateral, collateralSource: source, instant: instant, instantGiven: instantGiven,
            policy: policy, policySource: policySource)
    }

    private func loadPolicy() throws(UnusableInput) -> (AttestationPolicy, String) {
        guard let policy else { return (.dcapQVLDefault, "default (dcap-qvl rules)") }
        let hint = "Fix the policy file: a JSON object with the keys documented for `cloister quote verify --policy`."
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: policy))
        } catch {
            throw UnusableInput(message: "cannot read policy file \(policy) (\(error.localizedDescription))", hint: "Check the path.")
        }
        do {
            return (try JSONDecoder().decode(AttestationPolicy.self, from: data), policy)
        } catch let error as AttestationError {
            throw UnusableInput(message: "policy file \(policy): \(error.found)", hint: hint)
        } catch let DecodingError.typeMismatch(_, context) {
            throw UnusableInput(
                message: "policy file \(policy): '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type", hint: hint)
        } catch {
            throw UnusableInput(message: "policy file \(policy) is not a JSON policy object", hint: hint)
        }
    }

    private func fetchCollateral(for quote: Quote) async throws(UnusableInput) -> (Collateral, String) {
        let chosen = [collateral != nil, pcs != nil, pccs != nil, thim].filter { $0 }.count
        guard chosen == 1 else {
            throw UnusableInput(
                message: chosen == 0 ? "no collateral source given" : "more than one collateral source given",
                hint: "Give exactly one of --collateral FILE, --pcs URL, --pccs URL or --thim [URL].")
        }
        if thimURL != nil, !thim {
            throw UnusableInput(
                message: "unexpected argument '\(thimURL!)'", hint: "Only --thim takes a URL without an option name; give one quote file.")
        }
        if let collateral {
            do {
                return (try CollateralBundleFile(path: collateral).load(), "collateral file \(collateral)")
            } catch {
                throw UnusableInput(message: error.description, hint: "Give a dcap-qvl QuoteCollateralV3 JSON file.")
            }
        }
        let duration = Duration.milliseconds(Int64((timeout * 1000).rounded()))
        do {
            let request = try CollateralRequest(quote: quote)
            let settings = HTTPFetchSettings(timeout: duration)
            let source: any CollateralSource
            if let pcs {
                source = try IntelPCS(baseURL: pcs, rootCACRLURL: pcsRootCACRL, http: settings)
            } else if let pccs {
                if pccsCertificate != nil || pccsInsecure {
                    return try await pccsTrust().withFetchSettings(timeout: duration) { settings throws(CollateralSourceError) in
                        let source = try PCCS(baseURL: pccs, http: settings)
                        return (try await source.collateral(for: request), "\(source.identity) (\(request))")
                    }
                }
                source = try PCCS(baseURL: pccs, http: settings)
            } else {
                let base = thimURL ?? AzureTHIM.globalBaseURL
                source =
                    base.contains("169.254.169.254") || base.contains("/metadata/THIM")
                    ? try AzureTHIM.local(baseURL: base, http: settings) : try AzureTHIM(baseURL: base, http: settings)
            }
            return (try await source.collateral(for: request), "\(source.identity) (\(request))")
        } catch {
            throw UnusableInput(message: error.description, hint: "Fix the collateral source, or verify offline with --collateral FILE.")
        }
    }

    private func pccsTrust() throws(CollateralSourceError) -> PCCSTrust {
        if pccsInsecure { return .anyCertificate }
        guard let pccsCertificate, let pem = try? String(contentsOfFile: pccsCertificate, encoding: .utf8) else {
            throw .invalidConfiguration(
                setting: "--pccs-certificate", value: pccsCertificate ?? "", expected: "a readable PEM certificate file")
        }
        return .pinnedCertificates(pem: pem)
    }
}
