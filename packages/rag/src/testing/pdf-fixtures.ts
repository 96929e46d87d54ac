/**
 * Minimal hand-built PDFs for parser tests: one Helvetica text line per input line, a correct
 * cross-reference table, and optionally a standard security handler (/Encrypt) so pdf.js asks for a
 * password.
 */
export function minimalPdf(pages: string[], opts: { encrypt?: boolean } = {}): Uint8Array {
  const objs: string[] = [];
  const kids = pages.map((_, i) => `${4 + i * 2} 0 R`).join(' ');
  objs.push('<< /Type /Catalog /Pages 2 0 R >>');
  objs.push(`<< /Type /Pages /Kids [${kids}] /Count ${pages.length} >>`);
  objs.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  pages.forEach((page, i) => {
    const content = page
      .split('\n')
      .map(
        (line, j) => `BT /F1 12 Tf 72 ${720 - j * 16} Td (${line.replace(/[()\\]/g, (c) => `\\${c}`)}) Tj ET`,
      )
      .join('\n');
    objs.push(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + i * 2} 0 R >>`,
    );
    objs.push(`<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
  });
  let encrypt = 0;
  if (opts.encrypt) {
    objs.push(
      `<< /Filter /Standard /V 1 /R 2 /O <${'28BF4E5E4E758A41'.repeat(4)}> /U <${'00'.repeat(32)}> /P -3904 >>`,
    );
    encrypt = objs.length;
  }
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objs.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
  out += offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('');
  const id = '<0123456789ABCDEF0123456789ABCDEF>';
  const extra = encrypt ? ` /Encrypt ${encrypt} 0 R /ID [${id} ${id}]` : '';
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R${extra} >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(out);
}
