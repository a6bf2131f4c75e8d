"""Dialplans from routing plans: rendered from the domain model, deployed as files to every
node and served to mod_xml_curl from memory, kept current by scheduled changes."""
