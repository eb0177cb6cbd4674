import Foundation
import Hummingbird
import NIOCore

/// The OpenAPI 3.1 description of the client API and the marble API, served at `/api/v2/openapi.json`.
///
/// It is written by hand, to match MarbleRun's API v2 shapes; `CoordinatorServerTests` checks every documented
/// operation against the answers of a running Coordinator, so the document and the servers cannot drift apart.
public enum OpenAPIDocument {
    public static let json: String = #"""
        {
         "openapi": "3.1.0",
         "info": {
          "title": "Cloister Coordinator API",
          "version": "2",
          "description": "MarbleRun-compatible client API v2 (JSend envelopes, base64 byte fields, Go member names) and the marble activation API."
         },
         "servers": [
          {
           "url": "https://localhost:4433",
           "description": "The client API"
          }
         ],
         "paths": {
          "/api/v2/status": {
           "get": {
            "operationId": "getStatus",
            "summary": "The Coordinator's state",
            "responses": {
             "200": {
              "description": "State code and message",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/StatusEnvelope"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/quote": {
           "get": {
            "operationId": "getQuote",
            "summary": "Certificate chain and a quote binding SHA-256(root DER [|| nonce])",
            "parameters": [
             {
              "name": "nonce",
              "in": "query",
              "required": false,
              "schema": {
               "type": "string"
              },
              "description": "base64url nonce; the quote is then fresh"
             }
            ],
            "responses": {
             "200": {
              "description": "Chain and quote",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/CertQuoteEnvelope"
                }
               }
              }
             },
             "400": {
              "description": "The nonce is not base64url",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "500": {
              "description": "No quote could be made",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/manifest": {
           "get": {
            "operationId": "getManifest",
            "summary": "The manifest as uploaded, its fingerprint and root signature",
            "responses": {
             "200": {
              "description": "Signed manifest",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/ManifestGetEnvelope"
                }
               }
              }
             },
             "500": {
              "description": "No manifest is set",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           },
           "post": {
            "operationId": "setManifest",
            "summary": "Set the manifest (accepting manifest or recovery)",
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/ManifestRequest"
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "Recovery secrets per recovery key",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/ManifestSetEnvelope"
                }
               }
              }
             },
             "400": {
              "description": "Malformed body or invalid manifest",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "500": {
              "description": "Wrong state or internal failure",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/update": {
           "get": {
            "operationId": "getUpdateLog",
            "summary": "The update log, one JSON line per change",
            "responses": {
             "200": {
              "description": "Update log",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/UpdateLogEnvelope"
                }
               }
              }
             },
             "500": {
              "description": "Wrong state",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           },
           "post": {
            "operationId": "applyUpdate",
            "summary": "Package update, or start a multi-party manifest update",
            "security": [
             {
              "userCertificate": []
             }
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/ManifestRequest"
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "Applied, or acknowledgements still missing",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/UpdateApplyEnvelope"
                }
               }
              }
             },
             "400": {
              "description": "Malformed body or invalid update",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "401": {
              "description": "No, unknown, expired or unauthorized client certificate",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "500": {
              "description": "Wrong state or internal failure",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/update-manifest": {
           "get": {
            "operationId": "getPendingUpdate",
            "summary": "The pending manifest update",
            "responses": {
             "200": {
              "description": "Pending update",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/UpdateManifestGetEnvelope"
                }
               }
              }
             },
             "404": {
              "description": "No pending update",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           },
           "post": {
            "operationId": "acknowledgeUpdate",
            "summary": "Acknowledge the pending update with its exact bytes",
            "security": [
             {
              "userCertificate": []
             }
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/ManifestRequest"
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "Acknowledged (and applied when complete)",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/UpdateManifestPostEnvelope"
                }
               }
              }
             },
             "400": {
              "description": "Malformed body or different manifest",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "401": {
              "description": "Not a user asked to acknowledge",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "404": {
              "description": "No pending update",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             },
             "500": {
              "description": "Wrong state or internal failure",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/update-cancel": {
           "post": {
            "operationId": "cancelUpdate",
            "summary": "Cancel the pending manifest update",
            "security": [
             {
              "userCertificate": []
             }
            ],
            "responses": {
             "200": {
              "description": "Cancelled",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/UpdateCancelEnvelope"
                }
               }
              }
             },
             "401": {
              "description": "Not a user holding UpdateManifest",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "404": {
              "description": "No pending update",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             },
             "500": {
              "description": "Wrong state",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/secrets": {
           "get": {
            "operationId": "readSecrets",
            "summary": "Read secrets (ReadSecret role)",
            "security": [
             {
              "userCertificate": []
             }
            ],
            "parameters": [
             {
              "name": "s",
              "in": "query",
              "required": true,
              "style": "form",
              "explode": true,
              "schema": {
               "type": "array",
               "items": {
                "type": "string"
               }
              }
             }
            ],
            "responses": {
             "200": {
              "description": "Secrets by name",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/SecretsGetEnvelope"
                }
               }
              }
             },
             "400": {
              "description": "No or unknown secret names",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "401": {
              "description": "Not authorized",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "404": {
              "description": "A user-defined secret without a value",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             },
             "500": {
              "description": "Wrong state",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           },
           "post": {
            "operationId": "writeSecrets",
            "summary": "Upload user-defined secrets (WriteSecret role)",
            "security": [
             {
              "userCertificate": []
             }
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/SecretsSetRequest"
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "Stored",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/NullEnvelope"
                }
               }
              }
             },
             "400": {
              "description": "Malformed body or invalid secret value",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "401": {
              "description": "Not authorized",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "500": {
              "description": "Wrong state",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/openapi.json": {
           "get": {
            "operationId": "getOpenAPI",
            "summary": "This document",
            "responses": {
             "200": {
              "description": "OpenAPI 3 document",
              "content": {
               "application/json": {
                "schema": {
                 "type": "object",
                 "required": [
                  "openapi",
                  "paths"
                 ]
                }
               }
              }
             }
            }
           }
          },
          "/metrics": {
           "get": {
            "operationId": "getMetrics",
            "summary": "Prometheus metrics",
            "responses": {
             "200": {
              "description": "Prometheus text format",
              "content": {
               "text/plain": {
                "schema": {
                 "type": "string"
                }
               }
              }
             }
            }
           }
          },
          "/healthz": {
           "get": {
            "operationId": "getHealth",
            "summary": "Liveness",
            "responses": {
             "200": {
              "description": "The Coordinator answers",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/HealthEnvelope"
                }
               }
              }
             }
            }
           }
          },
          "/readyz": {
           "get": {
            "operationId": "getReadiness",
            "summary": "Readiness",
            "responses": {
             "200": {
              "description": "Ready",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/HealthEnvelope"
                }
               }
              }
             },
             "503": {
              "description": "Still starting",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/recover": {
           "post": {
            "operationId": "recover",
            "summary": "Upload a decrypted recovery secret (share) with its PKCS#1 v1.5 SHA-256 signature (recovery mode)",
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/RecoveryRequest"
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "Accepted; remaining shares",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/RecoveryEnvelope"
                }
               }
              }
             },
             "400": {
              "description": "Malformed body or invalid share",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "500": {
              "description": "Not in recovery mode",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/recover/public-key": {
           "get": {
            "operationId": "getRecoveryPublicKey",
            "summary": "An ephemeral RSA-4096 public key (PKIX DER) to encrypt a decrypted recovery secret to, with RSA-OAEP-SHA256 (recovery mode)",
            "responses": {
             "200": {
              "description": "The key, made on first use and kept in memory until the state is recovered",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/RecoveryPublicKeyEnvelope"
                }
               }
              }
             },
             "500": {
              "description": "Not in recovery mode",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/sign-quote": {
           "post": {
            "operationId": "signQuote",
            "summary": "Verify an SGX quote (raw or with the 16-byte OE header) without matching it against the manifest, and sign the TCB status with the root key (feature gate SignQuoteEndpoint)",
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/SignQuoteRequest"
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "The TCB status (any, Revoked included, once the quote has proven authentic) and ASN.1 ECDSA signature by the root key over SHA-256(base64(sgxQuote as sent) || tcbStatus)",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/SignQuoteEnvelope"
                }
               }
              }
             },
             "400": {
              "description": "Malformed body, or a quote that does not verify (data.sgxQuote says why)",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/SignQuoteFail"
                }
               }
              }
             },
             "403": {
              "description": "The manifest does not enable SignQuoteEndpoint (or no manifest is set)",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             },
             "500": {
              "description": "Collateral unavailable or signing failed",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/monotonic-counter": {
           "post": {
            "operationId": "setMonotonicCounter",
            "summary": "Raise the calling marble's counter to value if higher and return the previous value (feature gate MonotonicCounter; the marble's Coordinator-issued certificate)",
            "security": [
             {
              "issuedMarbleCertificate": []
             }
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/MonotonicCounterRequest"
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "The counter's value before the request (0 for a new counter)",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/MonotonicCounterEnvelope"
                }
               }
              }
             },
             "400": {
              "description": "Malformed body",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "401": {
              "description": "No client certificate, or one that is not a marble certificate of this Coordinator",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "403": {
              "description": "The manifest does not enable MonotonicCounter (or no manifest is set)",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             },
             "500": {
              "description": "Wrong state or storage failure",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/activation-plan": {
           "servers": [
            {
             "url": "https://localhost:2001",
             "description": "The marble API (mutual TLS; the client certificate is the marble's self-signed one)"
            }
           ],
           "post": {
            "operationId": "activationPlan",
            "summary": "The files an activation of a marble type will write, so that the launcher can check them before it activates",
            "security": [
             {
              "marbleCertificate": []
             }
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/ActivationPlanRequest"
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "The paths of the marble type's Files",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/ActivationPlanEnvelope"
                }
               }
              }
             },
             "400": {
              "description": "Malformed request",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "403": {
              "description": "Unknown marble type",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "500": {
              "description": "Wrong state (no manifest yet)",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          },
          "/api/v2/activate": {
           "servers": [
            {
             "url": "https://localhost:2001",
             "description": "The marble API (mutual TLS; the client certificate is the marble's self-signed one)"
            }
           ],
           "post": {
            "operationId": "activateMarble",
            "summary": "Activate a marble",
            "security": [
             {
              "marbleCertificate": []
             }
            ],
            "requestBody": {
             "required": true,
             "content": {
              "application/json": {
               "schema": {
                "$ref": "#/components/schemas/ActivationRequest"
               }
              }
             }
            },
            "responses": {
             "200": {
              "description": "Parameters for the marble",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/ActivationEnvelope"
                }
               }
              }
             },
             "400": {
              "description": "Malformed request or CSR",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "403": {
              "description": "Activation refused (quote, policy, limit)",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Fail"
                }
               }
              }
             },
             "500": {
              "description": "Wrong state or internal failure",
              "content": {
               "application/json": {
                "schema": {
                 "$ref": "#/components/schemas/Error"
                }
               }
              }
             }
            }
           }
          }
         },
         "components": {
          "schemas": {
           "Fail": {
            "type": "object",
            "required": [
             "status",
             "data",
             "message"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "fail"
              ]
             },
             "message": {
              "type": "string"
             },
             "data": {
              "type": "object",
              "required": [
               "reason",
               "found",
               "expected",
               "hint"
              ],
              "additionalProperties": false,
              "properties": {
               "reason": {
                "type": "string"
               },
               "found": {
                "type": "string"
               },
               "expected": {
                "type": "string"
               },
               "hint": {
                "type": "string"
               }
              }
             }
            }
           },
           "Error": {
            "type": "object",
            "required": [
             "status",
             "message"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "error"
              ]
             },
             "message": {
              "type": "string"
             }
            }
           },
           "Status": {
            "type": "object",
            "required": [
             "code",
             "message"
            ],
            "additionalProperties": false,
            "properties": {
             "code": {
              "type": "integer",
              "enum": [
               0,
               1,
               2,
               3
              ]
             },
             "message": {
              "type": "string"
             },
             "version": {
              "type": "string",
              "description": "The Coordinator's release; not in MarbleRun's answer"
             }
            }
           },
           "CertQuote": {
            "type": "object",
            "required": [
             "cert",
             "quote"
            ],
            "additionalProperties": false,
            "properties": {
             "cert": {
              "type": "string",
              "description": "PEM intermediate followed by PEM root"
             },
             "quote": {
              "type": "string",
              "format": "byte"
             }
            }
           },
           "ManifestGet": {
            "type": "object",
            "required": [
             "manifestSignatureRootECDSA",
             "manifestFingerprint",
             "manifest"
            ],
            "additionalProperties": false,
            "properties": {
             "manifestSignatureRootECDSA": {
              "type": "string",
              "format": "byte"
             },
             "manifestFingerprint": {
              "type": "string",
              "pattern": "^[0-9a-f]{64}$"
             },
             "manifest": {
              "type": "string",
              "format": "byte"
             }
            }
           },
           "ManifestRequest": {
            "type": "object",
            "required": [
             "manifest"
            ],
            "properties": {
             "manifest": {
              "type": "string",
              "format": "byte"
             }
            }
           },
           "RecoverySecrets": {
            "type": "object",
            "additionalProperties": {
             "type": "string",
             "format": "byte"
            }
           },
           "ManifestSet": {
            "type": "object",
            "required": [
             "RecoverySecrets"
            ],
            "additionalProperties": false,
            "properties": {
             "RecoverySecrets": {
              "$ref": "#/components/schemas/RecoverySecrets"
             }
            }
           },
           "UpdateLog": {
            "type": "object",
            "required": [
             "updateLog"
            ],
            "additionalProperties": false,
            "properties": {
             "updateLog": {
              "type": "array",
              "items": {
               "type": "string"
              }
             }
            }
           },
           "UpdateApply": {
            "type": "object",
            "required": [
             "missingAcknowledgments",
             "missingUsers"
            ],
            "additionalProperties": false,
            "properties": {
             "missingAcknowledgments": {
              "type": "integer"
             },
             "missingUsers": {
              "type": "array",
              "items": {
               "type": "string"
              }
             },
             "recoverySecrets": {
              "$ref": "#/components/schemas/RecoverySecrets"
             }
            }
           },
           "UpdateManifestGet": {
            "type": "object",
            "required": [
             "manifest",
             "message",
             "missingUsers"
            ],
            "additionalProperties": false,
            "properties": {
             "manifest": {
              "type": "string",
              "format": "byte"
             },
             "message": {
              "type": "string"
             },
             "missingUsers": {
              "type": "array",
              "items": {
               "type": "string"
              }
             }
            }
           },
           "UpdateManifestPost": {
            "type": "object",
            "required": [
             "message",
             "missingUsers",
             "missingAcknowledgments"
            ],
            "additionalProperties": false,
            "properties": {
             "message": {
              "type": "string"
             },
             "missingUsers": {
              "type": "array",
              "items": {
               "type": "string"
              }
             },
             "missingAcknowledgments": {
              "type": "integer"
             },
             "recoverySecrets": {
              "$ref": "#/components/schemas/RecoverySecrets"
             }
            }
           },
           "UpdateCancel": {
            "type": "object",
            "required": [
             "message"
            ],
            "additionalProperties": false,
            "properties": {
             "message": {
              "type": "string"
             }
            }
           },
           "Secret": {
            "type": "object",
            "required": [
             "Type",
             "Size",
             "Shared",
             "UserDefined",
             "Cert",
             "ValidFor",
             "Private",
             "Public"
            ],
            "additionalProperties": false,
            "properties": {
             "Type": {
              "type": "string"
             },
             "Size": {
              "type": "integer"
             },
             "Shared": {
              "type": "boolean"
             },
             "UserDefined": {
              "type": "boolean"
             },
             "Cert": {
              "type": "string",
              "format": "byte"
             },
             "ValidFor": {
              "type": "integer"
             },
             "Private": {
              "type": "string",
              "format": "byte"
             },
             "Public": {
              "type": "string",
              "format": "byte"
             }
            }
           },
           "SecretsGet": {
            "type": "object",
            "required": [
             "secrets"
            ],
            "additionalProperties": false,
            "properties": {
             "secrets": {
              "type": "object",
              "additionalProperties": {
               "$ref": "#/components/schemas/Secret"
              }
             }
            }
           },
           "UserSecret": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
             "Cert": {
              "type": "string",
              "format": "byte"
             },
             "Private": {
              "type": "string",
              "format": "byte"
             },
             "Key": {
              "type": "string",
              "format": "byte"
             }
            }
           },
           "SecretsSetRequest": {
            "type": "object",
            "required": [
             "secrets"
            ],
            "properties": {
             "secrets": {
              "type": "object",
              "additionalProperties": {
               "$ref": "#/components/schemas/UserSecret"
              }
             }
            }
           },
           "RecoveryRequest": {
            "type": "object",
            "required": [
             "recoverySecret",
             "recoverySecretSignature"
            ],
            "properties": {
             "recoverySecret": {
              "type": "string",
              "format": "byte"
             },
             "recoverySecretSignature": {
              "type": "string",
              "format": "byte"
             }
            }
           },
           "Recovery": {
            "type": "object",
            "required": [
             "remaining",
             "message"
            ],
            "additionalProperties": false,
            "properties": {
             "remaining": {
              "type": "integer"
             },
             "message": {
              "type": "string"
             }
            }
           },
           "Health": {
            "type": "object",
            "required": [
             "code",
             "state",
             "simulation"
            ],
            "additionalProperties": false,
            "properties": {
             "code": {
              "type": "integer"
             },
             "state": {
              "type": "string"
             },
             "simulation": {
              "type": "boolean"
             }
            }
           },
           "ActivationPlanRequest": {
            "type": "object",
            "required": [
             "marbleType"
            ],
            "properties": {
             "marbleType": {
              "type": "string"
             }
            }
           },
           "ActivationPlanEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "type": "object",
              "required": [
               "files"
              ],
              "additionalProperties": false,
              "properties": {
               "files": {
                "type": "array",
                "items": {
                 "type": "string"
                }
               }
              }
             }
            }
           },
           "ActivationRequest": {
            "type": "object",
            "required": [
             "quote",
             "csr",
             "marbleType",
             "uuid"
            ],
            "properties": {
             "quote": {
              "type": "string",
              "format": "byte"
             },
             "csr": {
              "type": "string",
              "format": "byte"
             },
             "marbleType": {
              "type": "string"
             },
             "uuid": {
              "type": "string"
             }
            }
           },
           "Activation": {
            "type": "object",
            "required": [
             "files",
             "env",
             "argv"
            ],
            "additionalProperties": false,
            "properties": {
             "files": {
              "type": "object",
              "additionalProperties": {
               "type": "string",
               "format": "byte"
              }
             },
             "env": {
              "type": "object",
              "additionalProperties": {
               "type": "string",
               "format": "byte"
              }
             },
             "argv": {
              "type": "array",
              "items": {
               "type": "string"
              }
             }
            }
           },
           "StatusEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/Status"
             }
            }
           },
           "CertQuoteEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/CertQuote"
             }
            }
           },
           "ManifestGetEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/ManifestGet"
             }
            }
           },
           "ManifestSetEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/ManifestSet"
             }
            }
           },
           "UpdateLogEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/UpdateLog"
             }
            }
           },
           "UpdateApplyEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/UpdateApply"
             }
            }
           },
           "UpdateManifestGetEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/UpdateManifestGet"
             }
            }
           },
           "UpdateManifestPostEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/UpdateManifestPost"
             }
            }
           },
           "UpdateCancelEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/UpdateCancel"
             }
            }
           },
           "SecretsGetEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/SecretsGet"
             }
            }
           },
           "RecoveryEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/Recovery"
             }
            }
           },
           "RecoveryPublicKey": {
            "type": "object",
            "required": [
             "algorithm",
             "ephemeralPublicKey"
            ],
            "additionalProperties": false,
            "properties": {
             "algorithm": {
              "type": "string",
              "enum": [
               "RSA"
              ]
             },
             "ephemeralPublicKey": {
              "type": "string",
              "format": "byte"
             }
            }
           },
           "RecoveryPublicKeyEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/RecoveryPublicKey"
             }
            }
           },
           "HealthEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/Health"
             }
            }
           },
           "ActivationEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/Activation"
             }
            }
           },
           "SignQuoteRequest": {
            "type": "object",
            "required": [
             "sgxQuote"
            ],
            "properties": {
             "sgxQuote": {
              "type": "string",
              "format": "byte"
             }
            }
           },
           "SignQuote": {
            "type": "object",
            "required": [
             "tcbStatus",
             "verificationSignature"
            ],
            "additionalProperties": false,
            "properties": {
             "tcbStatus": {
              "type": "string"
             },
             "verificationSignature": {
              "type": "string",
              "format": "byte"
             },
             "simulation": {
              "type": "boolean",
              "description": "True when the quote was verified against the simulation root (proves nothing); not in MarbleRun's answer"
             }
            }
           },
           "SignQuoteEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/SignQuote"
             }
            }
           },
           "SignQuoteFail": {
            "type": "object",
            "required": [
             "status",
             "data",
             "message"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "fail"
              ]
             },
             "message": {
              "type": "string"
             },
             "data": {
              "type": "object",
              "required": [
               "reason",
               "found",
               "expected",
               "hint"
              ],
              "additionalProperties": false,
              "properties": {
               "sgxQuote": {
                "type": "string",
                "description": "Why the quote does not verify (MarbleRun's member); absent for a malformed body"
               },
               "reason": {
                "type": "string"
               },
               "found": {
                "type": "string"
               },
               "expected": {
                "type": "string"
               },
               "hint": {
                "type": "string"
               }
              }
             }
            }
           },
           "MonotonicCounterRequest": {
            "type": "object",
            "required": [
             "name",
             "value"
            ],
            "properties": {
             "name": {
              "type": "string"
             },
             "value": {
              "type": "integer",
              "description": "An unsigned 64-bit integer"
             }
            }
           },
           "MonotonicCounter": {
            "type": "object",
            "required": [
             "value"
            ],
            "additionalProperties": false,
            "properties": {
             "value": {
              "type": "integer",
              "description": "The previous value, an unsigned 64-bit integer"
             }
            }
           },
           "MonotonicCounterEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "$ref": "#/components/schemas/MonotonicCounter"
             }
            }
           },
           "NullEnvelope": {
            "type": "object",
            "required": [
             "status",
             "data"
            ],
            "additionalProperties": false,
            "properties": {
             "status": {
              "type": "string",
              "enum": [
               "success"
              ]
             },
             "data": {
              "type": "null"
             }
            }
           }
          },
          "securitySchemes": {
           "userCertificate": {
            "type": "mutualTLS",
            "description": "A user's certificate from the manifest's Users (OpenAPI 3.1 name; presented as a TLS client certificate)"
           },
           "marbleCertificate": {
            "type": "mutualTLS",
            "description": "The marble's self-signed certificate whose SHA-256 the quote binds"
           },
           "issuedMarbleCertificate": {
            "type": "mutualTLS",
            "description": "The marble certificate the Coordinator issued at activation (MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN): signed by the Marble root, CN the marble UUID, extension 1.3.9903.2.1 the marble type"
           }
          }
         }
        }
        """#

    static func response() -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
    }
}
