import StrictJSON

extension Manifest {
    /// The files, environment and arguments that the marble type `marbleType` receives, with every template applied
    /// (MarbleRun's `customizeParameters`). Pure: the same input gives the same output.
    public func renderParameters(forMarble marbleType: String, input: RenderingInput) throws(RenderingError) -> RenderedParameters {
        let parametersPath = JSONPath.root / "Marbles" / marbleType / "Parameters"
        guard let marble = content.marbles[marbleType] else {
            throw RenderingError(
                path: (JSONPath.root / "Marbles" / marbleType).description, message: "the manifest defines no marble type \"\(marbleType)\"",
                hint: "use one of: \(content.marbles.keys.sorted().joined(separator: ", "))")
        }
        var files: [String: [UInt8]] = [:]
        var env: [String: [UInt8]] = [:]
        for (context, entries) in [(TemplateContext.file, marble.parameters.files), (.env, marble.parameters.env)] {
            for (name, value) in entries {
                let path = parametersPath / context.rawValue / name
                var rendered = value.data
                if !value.noTemplates {
                    do {
                        rendered = try Template.parse(value.data, context: context).render(input)
                    } catch {
                        throw RenderingError(path: path.description, message: error.message, hint: error.hint)
                    }
                }
                if context == .env {
                    guard !rendered.contains(0) else {
                        throw RenderingError(
                            path: path.description, message: "the value contains NUL bytes, which an environment variable cannot hold",
                            hint: "encode the secret with base64 or hex")
                    }
                    env[name] = rendered
                } else {
                    files[name] = rendered
                }
            }
        }
        return RenderedParameters(files: files, env: env, argv: marble.parameters.argv)
    }

    /// How the manifest's templates use the secret `name`: what an uploaded value must contain so that every marble
    /// still renders (the Coordinator checks uploads against this).
    public func usage(ofSecret name: String) -> SecretUsage {
        var usage = SecretUsage()
        for marble in content.marbles.values {
            for (context, entries) in [(TemplateContext.file, marble.parameters.files), (.env, marble.parameters.env)] {
                for value in entries.values where !value.noTemplates {
                    guard let template = try? Template.parse(value.data, context: context) else { continue }
                    for (function, operand) in template.actions {
                        switch operand {
                        case .secret(let secret, let part) where secret == name, .previousSecret(let secret, let part) where secret == name:
                            usage.parts.insert(part ?? .publicKey)
                            if function == .string { usage.mustBeFreeOfNUL = true }
                        default:
                            break
                        }
                    }
                }
            }
        }
        return usage
    }
}

/// Which parts of a secret templates read.
public struct SecretUsage: Sendable, Hashable {
    /// Parts that must be non-empty (a bare reference reads `Public`).
    public var parts: Set<SecretPart> = []
    /// The `string` function writes it into an environment variable, so it must not contain NUL bytes.
    public var mustBeFreeOfNUL = false

    public init() {}
}
