"""The XMP packet that carries the IPTC disclosure, merged into whatever XMP a file already has.

Our properties go in an rdf:Description of their own (RDF allows several for one resource), so
a file's other XMP, such as a PSD's recipe, stays as it was; an older DigitalSourceType is
dropped, so a file never states two.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from defusedxml import DefusedXmlException, ElementTree

from underpaint.core import ErrorCode
from underpaint.results.credentials.keys import CredentialsError
from underpaint.version import __version__

X = "adobe:ns:meta/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
XMP_BASIC = "http://ns.adobe.com/xap/1.0/"
_NAMESPACES = {"x": X, "rdf": RDF, "Iptc4xmpExt": IPTC_EXT, "xmp": XMP_BASIC}
_SOURCE_TYPE = f"{{{IPTC_EXT}}}DigitalSourceType"
_PACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_END = '\n<?xpacket end="w"?>'
_DECLARED_PREFIX = re.compile(r'xmlns:([A-Za-z_][\w.-]*)="([^"]+)"')

for _prefix, _uri in _NAMESPACES.items():
    register_namespace(_prefix, _uri)


def disclosure_packet(source_type: str, existing: bytes | None = None) -> bytes:
    """An XMP packet saying `source_type` (an IPTC DigitalSourceType URI) and the creator tool,
    holding everything `existing` (a packet, or None) held besides an older source type."""
    root = _parse(existing) if existing else Element(f"{{{X}}}xmpmeta")
    rdf = root.find(f"{{{RDF}}}RDF")
    if rdf is None:
        rdf = SubElement(root, f"{{{RDF}}}RDF")
    for description in rdf.iter(f"{{{RDF}}}Description"):
        description.attrib.pop(_SOURCE_TYPE, None)
        for old in description.findall(_SOURCE_TYPE):
            description.remove(old)
    ours = SubElement(rdf, f"{{{RDF}}}Description", {f"{{{RDF}}}about": ""})
    SubElement(ours, _SOURCE_TYPE).text = source_type
    if not any(d.find(f"{{{XMP_BASIC}}}CreatorTool") is not None for d in rdf.iter(f"{{{RDF}}}Description")):
        SubElement(ours, f"{{{XMP_BASIC}}}CreatorTool").text = f"Underpaint {__version__}"
    return (_PACKET_BEGIN + tostring(root, encoding="unicode") + _PACKET_END).encode("utf-8")


def source_type_of(packet: bytes) -> str | None:
    """The DigitalSourceType an XMP packet states, or None."""
    root = _parse(packet)
    for description in root.iter(f"{{{RDF}}}Description"):
        if _SOURCE_TYPE in description.attrib:
            return description.attrib[_SOURCE_TYPE]
        element = description.find(_SOURCE_TYPE)
        if element is not None and element.text:
            return element.text.strip()
    return None


def _parse(packet: bytes) -> Element:
    try:
        text = packet.decode("utf-8").lstrip("\ufeff")
        root = ElementTree.fromstring(text.strip().strip("\x00"))
    except (UnicodeDecodeError, ElementTree.ParseError, DefusedXmlException) as error:
        raise CredentialsError(ErrorCode.BAD_IMAGE, f"unreadable XMP metadata: {error}") from None
    # ElementTree forgets prefixes; registering the packet's own keeps `underpaint:recipe` readable
    # to people (and to XMP panels) rather than `ns0:recipe` when the packet is written again.
    for prefix, uri in _DECLARED_PREFIX.findall(text):
        if not re.fullmatch(r"ns\d+", prefix):
            register_namespace(prefix, uri)
    if root.tag == f"{{{RDF}}}RDF":
        # A bare rdf:RDF packet (older writers omit x:xmpmeta): wrap it so ours can join it.
        wrapper = Element(f"{{{X}}}xmpmeta")
        wrapper.append(root)
        return wrapper
    return root
