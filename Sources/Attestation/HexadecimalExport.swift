/// Quotes, measurements and collateral are read and shown as hexadecimal, so Attestation's clients get the codec with it.
@_exported import Hexadecimal
