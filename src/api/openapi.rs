//! The OpenAPI 3.1 document, generated from the handlers' annotations and the response types. It
//! is assembled here, above the handlers; the request forms and shared error sets they name live in
//! `schema.rs`, which imports nothing of the API, so no handler imports this module back.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::schema::{CaptureFrame, RegisterForm, UploadForm};
use super::{challenges, enrollments, health, metrics, passkeys, register, sessions, tokens, users, verify};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "faceauth",
        description = "Face authentication: register reference photos, verify new photos against them.\n\n\
            Every error answers `{\"error\": {\"code\", \"message\", \"request_id\"}}`; codes: (written from \
            src/error/codes.rs)."
    ),
    paths(
        register::register,
        enrollments::create_enrollment,
        sessions::create_session,
        sessions::get_session,
        tokens::introspect,
        tokens::jwks,
        challenges::create_challenge,
        passkeys::passkey_options,
        passkeys::register_passkey,
        verify::verify,
        users::get_user,
        users::delete_user,
        users::unlock_user,
        users::export_user,
        health::health,
        health::ready,
        metrics::metrics_endpoint,
    ),
    components(schemas(UploadForm, CaptureFrame, RegisterForm, crate::error::ErrorEnvelope, crate::error::ErrorBody)),
    modifiers(&Security),
    tags((name = "faces", description = "Registration and verification"), (name = "sessions", description = "Sessions your backend starts, their outcomes, and the signed results (JWKS, introspection)"), (name = "passkeys", description = "Passkeys for face + passkey sessions (WebAuthn)"), (name = "operations", description = "Health, readiness, metrics"))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        link_register_to_the_user_routes(openapi);
        // The codes come from the one table, so the document cannot drift from what is answered.
        if let Some(description) = openapi.info.description.as_mut() {
            *description = description
                .replace("(written from src/error/codes.rs).", &format!("{}.", crate::error::codes::listing()));
        }
    }
}

/// A stored reference's user can be read and deleted: links let generated clients and stateful
/// testers chain register → get_user / delete_user.
fn link_register_to_the_user_routes(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::link::LinkBuilder;
    let Some(item) = openapi.paths.paths.get_mut("/api/register") else { return };
    let Some(operation) = item.post.as_mut() else { return };
    let Some(RefOr::T(created)) = operation.responses.responses.get_mut("201") else { return };
    for (name, operation_id) in [("GetUser", "get_user"), ("DeleteUser", "delete_user")] {
        let link = LinkBuilder::new()
            .operation_id(operation_id)
            .parameter("user_id", "$response.body#/user_id")
            .description("The user the reference was stored for")
            .build();
        created.links.insert(name.to_string(), RefOr::T(link));
    }
}

/// The image formats the server decodes, sniffed from the bytes.
const IMAGE_TYPES: &str = "image/jpeg, image/png, image/webp";

/// The document as served, with the upload limit the server enforces (MAX_UPLOAD_SIZE).
///
/// Two things utoipa 5 cannot say are added here, where the JSON is made: the image part's media
/// types and byte limit (a multipart `encoding`, `maxLength`), and Link fields in OpenAPI 3.1's
/// camelCase (`operationId`; utoipa writes them in snake_case).
pub fn document(max_upload_bytes: usize) -> serde_json::Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    for form in ["UploadForm", "RegisterForm"] {
        let schema = &mut document["components"]["schemas"][form];
        schema["properties"]["image"]["maxLength"] = max_upload_bytes.into();
        // The server refuses fields it does not know (400 invalid_request).
        schema["additionalProperties"] = false.into();
    }
    // A capture's times and light answer belong to the capture: either without it is refused
    // (400 missing_field), and the contract says so (JSON Schema 2020-12, OpenAPI 3.1).
    document["components"]["schemas"]["UploadForm"]["dependentRequired"] =
        serde_json::json!({ "capture_ms": ["capture"], "capture_light": ["capture"] });
    // A passkey registration's `credential` is the object the browser's `PublicKeyCredential.toJSON()`
    // gives (base64url where WebAuthn has bytes); what no schema can say is whether it verifies.
    if let Some(credential) =
        document["components"]["schemas"]["PasskeyRegistration"]["properties"].get_mut("credential")
    {
        let description = credential["description"].clone();
        *credential = serde_json::json!({
            "type": "object",
            "description": description,
            "required": ["id", "rawId", "type", "response"],
            "properties": {
                "id": { "type": "string", "minLength": 1 },
                "rawId": { "type": "string", "minLength": 1 },
                "type": { "type": "string", "enum": ["public-key"] },
                "response": {
                    "type": "object",
                    "required": ["clientDataJSON", "attestationObject"],
                    "properties": {
                        "clientDataJSON": { "type": "string", "minLength": 1 },
                        "attestationObject": { "type": "string", "minLength": 1 },
                        "transports": { "type": "array", "items": { "type": "string" } }
                    }
                },
                "authenticatorAttachment": { "type": ["string", "null"] },
                "clientExtensionResults": { "type": "object" }
            }
        });
    }
    document["components"]["schemas"]["CaptureFrame"]["maxLength"] = max_upload_bytes.into();
    document["components"]["schemas"]["CaptureFrame"]["minLength"] = 1.into();
    for path in ["/api/register", "/api/verify"] {
        let content = &mut document["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"];
        if content.is_object() {
            let mut encoding = serde_json::json!({ "image": { "contentType": IMAGE_TYPES } });
            if path == "/api/verify" {
                encoding["capture"] = serde_json::json!({ "contentType": IMAGE_TYPES });
            }
            content["encoding"] = encoding;
        }
    }
    let responses = document["paths"].as_object_mut().into_iter().flat_map(|paths| paths.values_mut());
    let operations = responses.filter_map(|item| item.as_object_mut()).flat_map(|item| item.values_mut());
    for operation in operations {
        let Some(responses) = operation.get_mut("responses").and_then(|r| r.as_object_mut()) else { continue };
        for response in responses.values_mut() {
            let Some(links) = response.get_mut("links").and_then(|l| l.as_object_mut()) else { continue };
            for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
                for (snake, camel) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(value) = link.remove(snake) {
                        link.insert(camel.to_string(), value);
                    }
                }
            }
        }
    }
    document
}
