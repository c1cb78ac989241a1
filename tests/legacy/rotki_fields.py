"""The request-parsing pieces rotki v1.43.2's asset routes are built from, named after their
rotki counterparts (rotkehlchen/api/v1/fields.py and schemas.py): string and list fields, the
enum-by-name field, the pagination and ordering base schemas, the EVM-or-Solana address
check, and the JSON-body parser of its resource classes.

Field order and validator names matter, not just the rules: a 400 lists its errors in field
order, and marshmallow runs schema validators in the order of their names. A schema that
derives from both base schemas gets the fields of the one named last first, as in rotki
(`class AssetsPostSchema(DBPaginationSchema, DBOrderBySchema)` starts with the ordering).
"""
import re
from contextlib import suppress

from base58 import b58decode
from flask import request
from marshmallow import Schema, ValidationError, fields, validates_schema
from webargs import fields as webargs_fields
from webargs.flaskparser import parser


# ---- fields -----------------------------------------------------------------------------

class EmptyAsNoneStringField(fields.String):
    """A string where '' means "not given"."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return None if text == '' else text


class NonEmptyStringField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if text == '':
            raise ValidationError('Field cannot be an empty string')
        return text


class DelimitedOrNormalList(webargs_fields.DelimitedList):
    """A JSON list, or a string split at the delimiter (','); never empty, which is checked
    on the raw value, so '' is refused as empty rather than read as ['']."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            items = value.split(self.delimiter)
        elif hasattr(value, '__iter__'):  # a list, or a dict, which List then refuses as not a list
            items = value
        else:
            raise self.make_error('invalid')
        if len(value) == 0:
            raise ValidationError('List cant be empty')
        # webargs' own DelimitedList would refuse a JSON list: go straight to List's parsing
        return fields.List._deserialize(self, items, attr, data, **kwargs)


class EnumNameField(fields.Field):
    """An enum member picked by name, as rotki's SerializableEnumField and EvmChainNameField
    read one: case-insensitive, ' ' or '_' between words. Loads as the member's name.

    `members` maps the member names (upper case) to anything; `what` is the enum as rotki's
    messages name it ('AssetType', 'evm chain', ...)."""

    def __init__(self, members, what, **kwargs):
        self.members = members
        self.what = what
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError(f'Failed to deserialize {self.what} value from non string value: {value}')
        name = value.replace(' ', '_').upper()
        if name not in self.members:
            raise ValidationError(f'Failed to deserialize {self.what} value {value}')
        return name


# ---- base schemas -----------------------------------------------------------------------

# rotki's db/filtering.py: an ORDER BY attribute must look like a plain (or qualified) column.
ORDER_BY_COLUMN = re.compile(r'[A-Za-z_][A-Za-z0-9_.]*')


def is_valid_order_by_attribute(attribute):
    # '' arrives as None (EmptyAsNoneStringField), which is refused like any non-string
    return isinstance(attribute, str) and ORDER_BY_COLUMN.fullmatch(attribute) is not None


class DBPaginationSchema(Schema):
    limit = fields.Integer(load_default=None)
    offset = fields.Integer(load_default=None)


class DBOrderBySchema(Schema):
    order_by_attributes = DelimitedOrNormalList(EmptyAsNoneStringField(), load_default=None)
    ascending = DelimitedOrNormalList(fields.Boolean(), load_default=None)

    # rotki's name: a subclass's `validate_schema` sorts after it, so its errors come second
    @validates_schema
    def validate_order_by_schema(self, data, **_kwargs):
        attributes, ascending = data['order_by_attributes'], data['ascending']
        if (attributes is None) != (ascending is None):
            raise ValidationError('order_by_attributes and ascending have to be both null or have a value',
                                  field_name='order_by_attributes')
        if attributes is None:
            return
        if len(attributes) != len(ascending):
            raise ValidationError("order_by_attributes and ascending don't have the same length",
                                  field_name='order_by_attributes')
        for attribute in attributes:
            if not is_valid_order_by_attribute(attribute):
                raise ValidationError(f'Unsupported value {attribute} for order_by_attributes',
                                      field_name='order_by_attributes')


# ---- addresses ----------------------------------------------------------------------------

def is_valid_solana_address(address):
    """rotki's test (chain/solana/validation.py): base58 that decodes to 32 bytes. b58decode
    drops trailing whitespace first and refuses non-ASCII text with a ValueError."""
    with suppress(ValueError, TypeError):
        return len(b58decode(address)) == 32
    return False


def evm_or_solana_address(address):
    """The address filter rotki's post_load steps make of `address`: None stays None, a Solana
    address is kept as given (trailing whitespace and all), anything else must be an EVM
    address (an optional 0x/0X, then 40 hex digits) and comes back EIP-55 checksummed."""
    if address is None or is_valid_solana_address(address):
        return address
    # eth_utils imports pydantic, a third of a second at every start of an app the tests
    # start dozens of times; only a request with an EVM address pays it, once.
    from eth_utils import to_checksum_address
    try:
        return to_checksum_address(address)
    except ValueError:
        raise ValidationError(f'Given value {address} is not a valid EVM or Solana address',
                              field_name='address') from None


# ---- the body parser ------------------------------------------------------------------------

def load_json_body(schema):
    """rotki's ResourceReadingParser: the JSON body as it is, with no location wrapped around
    it. A body that is not JSON reaches the schema as webargs' `missing`, which marshmallow
    refuses with '_schema: Invalid input type.'; errors go to the app's webargs error handler."""
    data = parser.load_json(request, schema)
    try:
        return schema.load(data)
    except ValidationError as error:
        parser._on_validation_error(error, request, schema, 'json', error_status_code=None, error_headers=None)
