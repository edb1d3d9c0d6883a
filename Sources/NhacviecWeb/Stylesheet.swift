extension Desk {
  /// The desk's only stylesheet, served at `/desk.css` (the policy allows no inline style):
  /// readable on a phone, and printed on A4 without the navigation and forms.
  static let stylesheet = """
    :root { color-scheme: light; }
    * { box-sizing: border-box; }
    body { font-family: "Noto Sans", "DejaVu Sans", Arial, sans-serif; font-size: 16px; line-height: 1.4; color: #111; margin: 0; }
    header { background: #7a0000; color: #fff; padding: 0.5rem 1rem; display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1.5rem; }
    header .brand { font-weight: bold; margin: 0; }
    header nav { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem; }
    header a { color: #fff; }
    header .who { opacity: 0.9; }
    main { padding: 0.5rem 1rem 2rem; max-width: 70rem; }
    h1 { font-size: 1.4rem; }
    h2 { font-size: 1.2rem; margin-top: 1.5rem; }
    h3 { font-size: 1.05rem; }
    form.inline { display: inline; margin: 0; }
    form.filters { display: flex; flex-wrap: wrap; gap: 0 1rem; align-items: flex-end; }
    form.filters p { margin: 0.3rem 0; }
    label { display: block; font-weight: bold; font-size: 0.9rem; }
    input, select, button { font: inherit; padding: 0.3rem 0.4rem; max-width: 100%; }
    button { cursor: pointer; }
    form.login, form.record { max-width: 28rem; }
    form.login input, form.record input, form.record select { width: 100%; }
    .wide { overflow-x: auto; }
    table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
    th, td { border: 1px solid #999; padding: 0.25rem 0.4rem; vertical-align: top; text-align: left; }
    th { background: #eee; }
    td.n { text-align: right; white-space: nowrap; }
    tr.total td { font-weight: bold; }
    td form label, label.quiet { font-weight: normal; }
    label.quiet { display: inline; font-size: 0.8rem; color: #555; }
    figure { margin: 0.5rem 0; }
    svg { max-width: 100%; height: auto; }
    .on-time, .met-on-time { color: #1b5e20; }
    .late, .met-late { color: #8a4b00; }
    .missing, .overdue { color: #b71c1c; font-weight: bold; }
    .error { color: #b71c1c; border-left: 4px solid #b71c1c; padding-left: 0.5rem; }
    .ok { color: #1b5e20; border-left: 4px solid #1b5e20; padding-left: 0.5rem; }
    ol.attempts { margin: 0; padding-left: 1.2rem; font-size: 0.85rem; }
    @media (max-width: 40rem) {
      body { font-size: 15px; }
      main { padding: 0.5rem; }
      th, td { padding: 0.2rem; }
    }
    @media print {
      @page { size: A4; margin: 15mm 12mm; }
      header nav, form, button { display: none; }
      header { background: none; color: #000; padding: 0; }
      body { font-family: "Times New Roman", Times, serif; font-size: 11pt; }
      main { max-width: none; padding: 0; }
      section + section { break-before: page; }
      thead { display: table-header-group; }
      tr { break-inside: avoid; }
      .wide { overflow: visible; }
    }

    """
}
