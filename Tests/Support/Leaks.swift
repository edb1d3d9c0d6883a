import Foundation

/// Where any of `secrets` shows in `texts`: as it is, in base64, or inside the base64 of AUTH
/// PLAIN's `\0USER\0PASSWORD` for `user`. Empty when none does.
public func leaks(of secrets: [String], in texts: [String], user: String? = nil) -> [String] {
  var found: [String] = []
  for secret in secrets {
    var forms = [secret, Data(secret.utf8).base64EncodedString()]
    forms.append(String(forms[1].prefix { $0 != "=" }))
    if let user { forms.append(Data(("\0" + user + "\0" + secret).utf8).base64EncodedString()) }
    for text in texts {
      for form in forms where text.contains(form) { found.append("`\(form)` (for `\(secret)`) in: \(text)") }
    }
  }
  return found
}
