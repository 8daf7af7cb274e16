# frozen_string_literal: true

# The part of BOSH's job template context that the garden job's ERB templates use:
# p(name_or_names[, default]), if_p(*names) { } with .else { }, if_link (never linked here),
# properties, and spec. Values come from the overrides first, then from the job spec defaults;
# a property the job spec does not declare is unknown, as on a BOSH director.

require 'erb'
require 'json'
require 'ostruct'

class UnknownProperty < StandardError; end

class TemplateContext
  # A finished if_p/if_link whose block ran: its else does nothing.
  class Taken
    def else; end

    def else_if_p(*_names); self; end
  end

  # An if_p/if_link whose block did not run: else and else_if_p get their turn.
  class NotTaken
    def initialize(context)
      @context = context
    end

    def else
      yield
    end

    def else_if_p(*names, &block)
      @context.if_p(*names, &block)
    end
  end

  attr_reader :properties, :spec

  def initialize(defaults, overrides)
    @defaults = defaults
    @overrides = overrides
    @properties = to_open_struct(effective_properties)
    @spec = OpenStruct.new(properties: @properties, name: nil, index: nil, job: nil)
  end

  def p(*args)
    names = Array(args[0])
    names.each do |name|
      value = lookup(name)
      return value unless value.nil?
    end
    return args[1] if args.length > 1

    raise UnknownProperty, "Can't find property '#{names.join("' or '")}'"
  end

  def if_p(*names)
    values = names.map { |name| lookup(name) }
    return NotTaken.new(self) if values.any?(&:nil?)

    yield(*values)
    Taken.new
  end

  def if_link(_name)
    NotTaken.new(self)
  end

  def lookup(name)
    return nil unless @defaults.key?(name)

    value = dig(@overrides, name)
    value.nil? ? @defaults[name] : value
  end

  def effective_properties
    @defaults.keys.each_with_object({}) do |name, tree|
      *parents, leaf = name.split('.')
      parents.reduce(tree) { |node, key| node[key] ||= {} }[leaf] = lookup(name)
    end
  end

  def render(template_text, source_name)
    ERB.new(template_text, trim_mode: '-').result(binding)
  rescue UnknownProperty, StandardError => e
    line = e.backtrace&.find { |frame| frame.start_with?('(erb)') }&.split(':')&.at(1)
    raise "Error filling in template '#{source_name}'#{line ? " (line #{line})" : ''}: #{e.message}"
  end

  private

  def dig(tree, dotted)
    dotted.split('.').reduce(tree) do |node, key|
      return nil unless node.is_a?(Hash) && node.key?(key)

      node[key]
    end
  end

  def to_open_struct(value)
    return value unless value.is_a?(Hash)

    OpenStruct.new(value.transform_values { |child| to_open_struct(child) })
  end
end
